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
        Options: \(TrainingOptions.keys.map { "--" + $0.name + ($0.isFlag ? "" : " V") }.joined(separator: ", ")), --config FILE.
        Not yet: --continue, --batch-size above 1, the HTML index and a progress bar.
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
        let resolved: TrainingOptions
        do {
            let (config, settings) = try TrainingOptions.parseArguments(options)
            var entries: [(String, String)] = []
            if let config {
                guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                    throw TrainingError(.invalidSetting, "\(config): cannot read the config file")
                }
                entries = try TrainingOptions.configEntries(yaml: text, file: config)
            }
            resolved = try TrainingOptions.resolve(recipe, config: entries, flags: settings)
            let backend = try DNNLBackend(algorithm: .winograd, threads: resolved.threads)
            let trainer = try Trainer(resolved, backend: backend)
            print("training \(model) on \(trainer.dataset.count) images (\(trainer.dataset.layout.rawValue)), epochs \(trainer.epochs.lowerBound)…\(trainer.epochs.upperBound), run folder \(resolved.run)")
            for epoch in trainer.epochs {
                let start = Date()
                var last: LossRecord?
                try trainer.trainEpoch(epoch) { last = $0 }
                let losses = last?.losses.map { String(format: "%@ %.3f", $0.name, $0.value) }.joined(separator: "  ") ?? ""
                print(String(format: "epoch %d/%d  %.1f s  lr %.2e  %@", epoch, trainer.epochs.upperBound,
                             Date().timeIntervalSince(start), last?.lr ?? 0, losses))
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            // One line naming what is wrong (the option, folder or file), exit 1.
            throw fail("train \(model): \(error)")
        }
    }
}
