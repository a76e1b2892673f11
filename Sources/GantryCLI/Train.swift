import ArgumentParser
import Engine
import Foundation
import Training

/// `gantry train pix2pix|cyclegan [options]`: the reference's `train.py` on Gantry's engine.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a pix2pix, CycleGAN, StarGAN or DCGAN model on your own folders into a run folder.",
        discussion: """
        gantry train pix2pix --data datasets/facades --run runs/facades --direction BtoA
        gantry train stargan --data celeba/images --attributes celeba/list_attr_celeba.txt --selected-attrs Black_Hair,Blond_Hair,Brown_Hair,Male,Young --run runs/celeba
        gantry train stargan --data faces/ --run runs/faces   (a subfolder per domain)
        gantry train dcgan --data faces/ --run runs/dcgan --gan-mode hinge   (then: gantry sample -m runs/dcgan -n 64 -o grid.png)
        Every option of the reference's train.py for these models is accepted in kebab case or in the reference's own spelling (--net-g or --netG, --lambda-l1 or --lambda_L1, --continue or --continue_train, --data or --dataroot); --config FILE reads the same keys from YAML, and flags win over it. RUN/config.yaml records every resolved option.
        Ctrl-C (or SIGTERM) finishes the current iteration, saves, and exits 0; a second Ctrl-C quits at once. --continue carries on exactly where the run stopped, with the run's own options (flags given again change them); on a folder of reference-named .pth files only (PyTorch's --continue_train), or with --epoch N, it starts from those weights with fresh optimizer state.
        Options: \(TrainingOptions.keys.map { "--" + $0.name + ($0.isFlag ? "" : " V") + ($0.recipes.count == 1 ? " (\($0.recipes.first!.rawValue))" : "") }.joined(separator: ", ")), --config FILE. StarGAN also takes yunjey/stargan's main.py spellings (--g_conv_dim, --attr_path, --selected_attrs, --num_iters, --n_critic, ...).
        """
    )

    @Argument(help: "pix2pix, cyclegan, stargan or dcgan.")
    var model: String

    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (see the discussion).")
    var options: [String] = []

    func validate() throws {
        guard TrainingRecipe(rawValue: model) != nil else { throw ValidationError("the model must be pix2pix, cyclegan, stargan or dcgan, got '\(model)'") }
    }

    func run() throws {
        let recipe = TrainingRecipe(rawValue: model)!
        let stop = TrainingStop()
        do {
            let resolved = try TrainingOptions.resolveCommandLine(recipe, arguments: options)
            let backend = try DNNLBackend(algorithm: .winograd, threads: resolved.threads)
            let trainer = try Trainer(resolved, backend: backend)
            let progress = TrainingProgress(style: TrainingProgress.defaultStyle, epochs: trainer.epochs)
            for note in trainer.notes { progress.handle(.note(note)) }
            print(Self.starting(trainer))
            let outcome = try stop.watching(progress) { try trainer.train(until: $0, report: $1) }
            print(Self.ended(trainer, outcome))
        } catch let error as ExitCode {
            throw error
        } catch {
            // One line naming what is wrong (the option, folder or file), exit 1.
            throw fail("train \(model): \(error)")
        }
    }

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
            warn("stopping after this iteration and saving a resumable state (interrupt again to quit at once)")
        } else {
            warn("quitting without saving")
            _exit(130)
        }
    }
}
