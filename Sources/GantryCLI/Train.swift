import ArgumentParser
import Engine
import Foundation
import Training

/// `gantry train pix2pix|cyclegan [options]`: the reference's `train.py` on Gantry's engine.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a pix2pix or CycleGAN model on your own folders into a run folder.",
        discussion: """
        gantry train pix2pix --data datasets/facades --run runs/facades --direction BtoA
        Every option of the reference's train.py for these models is accepted in kebab case or in the reference's own spelling (--net-g or --netG, --lambda-l1 or --lambda_L1, --continue or --continue_train, --data or --dataroot); --config FILE reads the same keys from YAML, and flags win over it. RUN/config.yaml records every resolved option.
        Ctrl-C (or SIGTERM) finishes the current iteration, saves, and exits 0; a second Ctrl-C quits at once. --continue carries on exactly where the run stopped, with the run's own options (flags given again change them); on a folder of reference-named .pth files only (PyTorch's --continue_train), or with --epoch N, it starts from those weights with fresh optimizer state.
        Options: \(TrainingOptions.keys.map { "--" + $0.name + ($0.isFlag ? "" : " V") }.joined(separator: ", ")), --config FILE.
        """
    )

    @Argument(help: "pix2pix or cyclegan.")
    var model: String

    @Argument(parsing: .captureForPassthrough, help: "Options, as --name value (see the discussion).")
    var options: [String] = []

    func validate() throws {
        guard TrainingRecipe(rawValue: model) != nil else { throw ValidationError("the model must be pix2pix or cyclegan, got '\(model)'") }
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
            print("training \(model) on \(trainer.dataset.count) images (\(trainer.dataset.layout.rawValue)), epochs \(trainer.nextEpoch)…\(trainer.epochs.upperBound), run folder \(resolved.run)")
            let watcher = SignalWatcher { stop.signal() }
            let outcome = try trainer.train(until: { stop.requested }, report: progress.handle)
            withExtendedLifetime(watcher) {}
            progress.finish()
            switch outcome {
            case .finished:
                print("finished; the generator: gantry convert IMAGES -m \(resolved.run) -o OUT")
            case .stopped(let epoch, let images):
                print("stopped in epoch \(epoch) after \(images) images; saved. Continue with: gantry train \(model) --run \(resolved.run) --continue")
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            // One line naming what is wrong (the option, folder or file), exit 1.
            throw fail("train \(model): \(error)")
        }
    }
}

/// The first SIGINT/SIGTERM asks the trainer to stop after its iteration; a second exits now.
final class TrainingStop: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var requested: Bool { lock.withLock { count > 0 } }

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
