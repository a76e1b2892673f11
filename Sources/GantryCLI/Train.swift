import ArgumentParser
import Distributed
import Engine
import Foundation
import Runs
import Training

/// `gantry train RECIPE [options]`: the reference recipes on Gantry's engine, one subcommand each,
/// so `gantry train RECIPE --help` lists that recipe's options.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a pix2pix, colorization, CycleGAN, StarGAN or DCGAN model on your own folders into a run folder.",
        discussion: """
        gantry train pix2pix --data datasets/facades --run runs/facades --direction BtoA
        gantry train colorization --data photos/ --run runs/colour   (any colour photos)
        gantry train stargan --data faces/ --run runs/faces   (a subfolder per domain)
        gantry train dcgan --data faces/ --run runs/dcgan --gan-mode hinge
        `gantry train RECIPE --help` lists the recipe's options. Each is accepted in kebab case or the reference's own spelling, with - or _ between words (--net-g or --netG, --lambda-l1 or --lambda_L1, --continue or --continue_train, --g-conv-dim or --g_conv_dim); --config FILE reads the same keys from YAML, and flags win over it. RUN/config.yaml records every resolved option.
        Ctrl-C (or SIGTERM) finishes the current iteration, saves, and exits 0; a second Ctrl-C quits at once. --continue carries on exactly where the run stopped, with the run's own options (flags given again change them). Exit status: 0 finished or stopped, 1 failed, 64 usage error, 75 a data-parallel job stopped by a disk fault on a rank (clear it, then --continue).
        """,
        subcommands: [TrainPix2Pix.self, TrainColorization.self, TrainCycleGAN.self, TrainCUT.self, TrainFastCUT.self, TrainStarGAN.self, TrainDCGAN.self]
    )
}

struct TrainPix2Pix: RecipeCommand {
    static let recipe = TrainingRecipe.pix2pix
    static let configuration = recipeConfiguration("pix2pix: a conditional GAN on aligned pairs (the reference's train.py --model pix2pix).",
        "gantry train pix2pix --data datasets/facades --run runs/facades --direction BtoA")
    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (listed above).") var options: [String] = []
}

struct TrainColorization: RecipeCommand {
    static let recipe = TrainingRecipe.colorization
    static let configuration = recipeConfiguration("colorization: pix2pix from L to ab of CIELab on colour photos; the output keeps the photo's own L (the reference's train.py --model colorization).",
        "gantry train colorization --data photos/ --run runs/colour   (photos in DATA/train/, or in DATA itself)")
    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (listed above).") var options: [String] = []
}

struct TrainCycleGAN: RecipeCommand {
    static let recipe = TrainingRecipe.cyclegan
    static let configuration = recipeConfiguration("CycleGAN: two generators on unpaired folders (the reference's train.py --model cycle_gan).",
        "gantry train cyclegan --data datasets/horse2zebra --run runs/h2z")
    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (listed above).") var options: [String] = []
}

struct TrainCUT: RecipeCommand {
    static let recipe = TrainingRecipe.cut
    static let configuration = recipeConfiguration("CUT: contrastive unpaired translation, one generator (taesungp/contrastive-unpaired-translation's train.py --model cut).",
        "gantry train cut --data datasets/horse2zebra --run runs/h2z-cut")
    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (listed above).") var options: [String] = []
}

struct TrainFastCUT: RecipeCommand {
    static let recipe = TrainingRecipe.fastcut
    static let configuration = recipeConfiguration("FastCUT: CUT without the identity NCE, λ_NCE 10 and flip equivariance (--CUT_mode FastCUT).",
        "gantry train fastcut --data datasets/horse2zebra --run runs/h2z-fastcut")
    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (listed above).") var options: [String] = []
}

struct TrainStarGAN: RecipeCommand {
    static let recipe = TrainingRecipe.stargan
    static let configuration = recipeConfiguration("StarGAN: one generator for many domains (yunjey/stargan's solver; its main.py spellings work too).",
        "gantry train stargan --data celeba/images --attributes celeba/list_attr_celeba.txt --selected-attrs Black_Hair,Blond_Hair,Brown_Hair,Male,Young --run runs/celeba")
    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (listed above).") var options: [String] = []
}

struct TrainDCGAN: RecipeCommand {
    static let recipe = TrainingRecipe.dcgan
    static let configuration = recipeConfiguration("DCGAN: images from noise (pytorch/examples dcgan/main.py); then gantry sample -m RUN.",
        "gantry train dcgan --data faces/ --run runs/dcgan --gan-mode hinge")
    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (listed above).") var options: [String] = []
}

/// One recipe's `gantry train` subcommand: its options pass through to `TrainingOptions`, which
/// resolves them with the reference's spellings; `--help` among them prints the recipe's table.
protocol RecipeCommand: ParsableCommand {
    static var recipe: TrainingRecipe { get }
    var options: [String] { get }
}

extension RecipeCommand {
    /// The subcommand's help: an example, then the recipe's options laid out as ArgumentParser
    /// lays out the others (every spelling, one line of help, the default).
    static func recipeConfiguration(_ abstract: String, _ example: String) -> CommandConfiguration {
        let rows = TrainingOptions.helpRows(for: recipe).map { row in
            (row.spellings.joined(separator: ", ") + (row.value.map { " " + $0 } ?? ""), row.help)
        } + [("--config <file>", "Read options from a YAML file (flags win over it).")]
        return CommandConfiguration(commandName: recipe.rawValue, abstract: abstract,
                                    discussion: example + "\n\n" + recipe.rawValue.uppercased() + " OPTIONS:\n" + layOut(rows))
    }

    /// `  --name, --other <value>   Help text wrapped at 80 columns.`
    static func layOut(_ rows: [(String, String)]) -> String {
        let indent = 28, width = 78
        return rows.map { left, help in
            var lines: [String] = [], line = ""
            for word in help.split(separator: " ") {
                if !line.isEmpty && line.count + 1 + word.count > width - indent {
                    lines.append(line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            if !line.isEmpty { lines.append(line) }
            let first = "  " + left
            let pad = String(repeating: " ", count: indent)
            let head = first.count + 2 <= indent ? first + String(repeating: " ", count: indent - first.count) + (lines.first ?? "")
                : first + "\n" + pad + (lines.first ?? "")
            return ([head] + lines.dropFirst().map { pad + $0 }).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func run() throws {
        if options.contains("--help") || options.contains("-h") {
            print(Gantry.helpMessage(for: Self.self))
            return
        }
        let model = Self.recipe.rawValue
        // Under mpirun (or srun, or an MPIJob) this process is one rank of a data-parallel job;
        // started without one, the group is this process alone and MPI is never loaded.
        let group: ProcessGroup
        do { group = try ProcessGroup.start() } catch { throw fail("train \(model): \(error)") }
        let stop = TrainingStop()
        // mpirun forwards SIGINT/SIGTERM to every rank: rank 0 alone says what happens.
        stop.speaks = group.rank == 0
        do {
            let trainer = try Trainer.start(in: group) {
                let resolved = try TrainingOptions.resolveCommandLine(Self.recipe, arguments: options)
                let backend = try DNNLBackend(algorithm: .winograd, threads: resolved.threads)
                return try Trainer(resolved, backend: backend, group: group)
            }
            // Rank 0 speaks for the job; the others train quietly.
            let speaks = group.rank == 0
            let progress = TrainingProgress(style: speaks ? TrainingProgress.defaultStyle : .quiet, epochs: trainer.epochs)
            for note in trainer.notes { progress.handle(.note(note)) }
            if speaks { print(Train.starting(trainer)) }
            let outcome = try stop.watching(progress) { try trainer.train(until: $0, report: $1) }
            if speaks { print(Train.ended(trainer, outcome)) }
            group.finish()
        } catch let error as ExitCode {
            throw error
        } catch {
            guard group.size > 1 else {
                // One line naming what is wrong (the option, folder or file), exit 1.
                throw fail("train \(model): \(error)")
            }
            // Every rank knows an error the ranks agreed on (or a diverged loss, the same
            // everywhere): rank 0 says it and all exit 1. Any other error is this rank's alone
            // and the others would wait for it: it says so and ends the job.
            let shared = (error as? TrainingError).map { [.ranks, .diverged].contains($0.code) } ?? false
            if shared {
                // A disk fault on any rank is no bad input: EX_TEMPFAIL, as convert's.
                let fault = ((error as? TrainingError)?.cause as? TrainingError)?.code == .readFailed
                if group.rank == 0 { throw fail("train \(model): \(error)", code: fault ? Convert.faultExitCode : 1) }
                throw ExitCode(fault ? Convert.faultExitCode : 1)
            }
            warn("train \(model): rank \(group.rank) of \(group.size): \(error); ending the job")
            group.abort(code: 1)
        }
    }
}

extension Train {
    /// What is about to train, on what, into where.
    static func starting(_ trainer: Trainer) -> String {
        let o = trainer.options, run = "run folder \(o.run)"
        switch trainer.recipe {
        case let r as StarGANRecipe:
            let held = r.dataset.heldOut.count
            let heldNote = held == 0 ? "" : " (\(held) held out for testing as the solver does, listed in held_out.txt)"
            return "training stargan on \(r.dataset.count) images\(heldNote), domains \(o.domains.joined(separator: ", ")), iterations \(trainer.iterations + 1)…\(o.numIters), \(run)"
        case let r as DCGANRecipe:
            return "training dcgan (\(o.ganMode.rawValue)) on \(r.images.count) images, epochs \(trainer.nextEpoch)…\(trainer.epochs.upperBound), \(run)"
        default:
            let layout = (trainer.recipe.data as? TrainingDataset).map { " (\($0.layout.rawValue))" } ?? ""
            return "training \(o.model.rawValue) on \(trainer.recipe.data.count) images\(layout), epochs \(trainer.nextEpoch)…\(trainer.epochs.upperBound), \(run)"
        }
    }

    /// How it ended, and what to run next.
    static func ended(_ trainer: Trainer, _ outcome: TrainingOutcome) -> String {
        let o = trainer.options
        switch (outcome, o.model) {
        case (.finished, .stargan):
            let domains = o.domains.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", ")
            return "finished; the generator: gantry convert IMAGES -m \(o.run) -o OUT with --domain K (\(domains)) or --condition v1,v2,… (one 0/1 per domain)"
        case (.finished, .dcgan):
            return "finished; new images: gantry sample -m \(o.run) -n 64 -o grid.png"
        case (.finished, _):
            return "finished; the generator: gantry convert IMAGES -m \(o.run) -o OUT"
        case (.stopped(_, let iterations), .stargan):
            return "stopped after \(iterations) iterations; saved. Continue with: gantry train stargan --run \(o.run) --continue"
        case (.stopped(let epoch, let images), _):
            return "stopped in epoch \(epoch) after \(images) images; saved. Continue with: gantry train \(o.model.rawValue) --run \(o.run) --continue"
        }
    }
}

/// The first SIGINT/SIGTERM asks the trainer to stop after its iteration; a second exits now.
final class TrainingStop: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    /// Whether this process reports the stop (rank 0 of a data-parallel job, or the only one).
    var speaks = true

    var requested: Bool { lock.withLock { count > 0 } }

    /// Runs a trainer's `train(until:report:)` with SIGINT/SIGTERM asking it to stop and
    /// `progress` drawing its events, then clears the progress display.
    func watching(_ progress: TrainingProgress,
                  _ train: (_ until: () -> Bool, _ report: (TrainingEvent) -> Void) throws -> TrainingOutcome) throws -> TrainingOutcome {
        let watcher = SignalWatcher { self.signal() }
        defer { progress.finish() }
        return try withExtendedLifetime(watcher) { try train({ self.requested }, progress.handle) }
    }

    func signal() {
        let n = lock.withLock { count += 1; return count }
        if n == 1 {
            if speaks { warn("stopping after this iteration and saving a resumable state (interrupt again to quit at once)") }
        } else {
            if speaks { warn("quitting without saving") }
            _exit(130)
        }
    }
}
