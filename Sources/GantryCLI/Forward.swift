import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Models

/// `gantry forward`: runs a generator on tensors, for comparing Gantry with PyTorch directly.
struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a generator on an N×C×H×W tensor in [-1, 1] stored in a safetensors file.",
        discussion: "Reads the tensor named 'input' (or the only tensor) from INPUT and writes 'output' to OUTPUT. In Python: safetensors.torch.save_file({'input': x}, 'in.safetensors') with x = (img / 127.5 - 1), then compare with net(x)."
    )

    @Argument(help: "Checkpoint file.") var checkpoint: String
    @Argument(help: "safetensors file holding the input tensor.") var input: String
    @Argument(help: "safetensors file to write (refuses to overwrite unless --overwrite).") var output: String
    @Flag(help: "Replace OUTPUT if it exists.") var overwrite = false
    @OptionGroup var inference: InferenceOptions
    @OptionGroup var architecture: ArchitectureOptions

    func run() throws {
        if !overwrite && FileManager.default.fileExists(atPath: output) {
            throw fail("\(output): already exists (use --overwrite to replace it)")
        }
        do {
            let (generator, _) = try Generator.load(contentsOf: URL(fileURLWithPath: checkpoint), overrides: architecture.overrides)
            let file = try Checkpoint.load(contentsOf: URL(fileURLWithPath: input))
            guard let t = file.stateDict["input"] ?? (file.stateDict.count == 1 ? file.stateDict[file.stateDict.keys[0]] : nil) else {
                throw fail("\(input): no tensor named 'input' (found \(file.stateDict.keys.prefix(5).joined(separator: ", ")))")
            }
            let x = try Tensor(t)
            let settings = try inference.settings()
            let condition = try settings.conditionTensor(for: generator.architecture, batch: t.shape.first ?? 1)
            let y = try generator.forward(x, condition: condition, context: settings.context(backend: inference.backend()))
            try SafetensorsWriter.write(StateDict([("output", CheckpointTensor(y))]),
                                        to: URL(fileURLWithPath: output))
        } catch let error as CheckpointError {
            throw fail(error.description)
        } catch let error as ModelError where error.code == .invalidInput {
            // The tensor's shape is the input file's problem, not the checkpoint's.
            throw fail("\(input): \(error)")
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("\(checkpoint): \(commandLineMessage(error))")
        }
    }
}
