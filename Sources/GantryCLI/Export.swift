import ArgumentParser
import AtomicFiles
import Checkpoints
import Foundation
import Models
import ONNXExport
import Pipeline
import Runs

/// `gantry export MODEL_OR_RUN -o model.onnx`: a generator as an ONNX model for deployment
/// runtimes (onnxruntime, OpenVINO, TensorRT, ncnn's converters).
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a generator as an ONNX model (opset 17, dynamic batch, height and width).",
        discussion: """
        MODEL is a checkpoint file, a `gantry train` run folder or a folder of reference-named checkpoints, \
        picked as convert picks it. The model computes what `gantry convert` does between normalising the \
        photo and writing it: each image's own normalisation statistics (also batch norm, as the reference's \
        test.py), no dropout; --eval writes BatchNorm with its running statistics instead. StarGAN takes its \
        labels as a second input (`labels`, N×c_dim); a DCGAN run exports its generator from noise (`z`). \
        The model's metadata says how to prepare the input and read the output.
        """
    )

    @Argument(help: "Checkpoint file, run folder, or folder of latest_net_G*.pth files.") var model: String
    @Option(name: .shortAndLong, help: "The .onnx file to write (refuses to replace one unless --overwrite).") var output: String
    @Option(help: "AtoB or BtoA, in the dataset's terms (run or checkpoint folder).") var direction: String?
    @Option(help: "The network in a run folder: G (pix2pix), G_A or G_B (CycleGAN).") var which: String?
    @Option(help: "latest (default) or an epoch number saved in the run folder.") var epoch: String?
    @Flag(help: "BatchNorm with its running statistics (PyTorch eval mode), as convert --eval. Default: each image's own statistics, as convert.")
    var eval = false
    @Flag(help: "Replace OUTPUT if it exists.") var overwrite = false
    @OptionGroup var architecture: ArchitectureOptions

    func validate() throws {
        if let direction, !["AtoB", "BtoA"].contains(direction) { throw ValidationError("--direction must be AtoB or BtoA") }
        if let epoch, epoch != "latest", Int(epoch).map({ $0 < 0 }) ?? true {
            throw ValidationError("--epoch must be latest or an epoch number, got '\(epoch)'")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder), isFolder.boolValue {
            throw ValidationError("-o \(output) is a folder; name the .onnx file to write")
        }
        guard output.lowercased().hasSuffix(".onnx") else {
            throw ValidationError("-o \(output): the file to write must end in .onnx")
        }
    }

    func run() throws {
        let url = URL(fileURLWithPath: model)
        let (network, summary) = try load(url)
        let options = ExportOptions(runningStatistics: eval, producerVersion: GantryRelease.version,
                                    metadata: [("gantry.source", summary)])
        let bytes: Data
        do { bytes = try ONNXExporter.data(network, options: options) } catch let e as ExportError {
            throw fail("\(model): \(e.message)")
        }
        let target = URL(fileURLWithPath: output)
        do {
            try AtomicFile.write(bytes, to: target, mode: overwrite ? .replace : .createNew)
        } catch let e where e.code == .exists {
            throw fail("\(output): already exists (use --overwrite to replace it)", code: 64)
        } catch {
            throw fail("\(error)")
        }
        let inputs: String
        switch network {
        case .generator(let g):
            let a = g.architecture
            inputs = "image[batch,\(a.inputChannels),height,width]" + (a.family == .stargan ? ", labels[batch,\(a.conditionChannels)]" : "")
        case .noiseGenerator(_, let nz, _, _):
            inputs = "z[batch,\(nz),1,1]"
        }
        let megabytes = String(format: "%.1f", Double(bytes.count) / 1e6)
        print("\(summary) → \(output) (\(megabytes) MB, ONNX opset \(ONNXExporter.opset), inputs \(inputs))")
    }

    /// The network named by MODEL, and one line saying what it is and where it came from.
    private func load(_ url: URL) throws -> (ExportableNetwork, String) {
        do {
            if TrainedRun.isRunFolder(url), case let run = try TrainedRun(url), run.options.model == .dcgan {
                let o = run.options
                let generator = try DCGAN.generator(nz: o.nz, ngf: o.ngf, batchNorm: o.norm == .batch)
                _ = try run.folder.loadNetworks([("G", generator)], epoch: epoch ?? "latest")
                return (.noiseGenerator(generator, nz: o.nz, channels: 3, imageSize: DCGAN.imageSize),
                        "DCGAN generator nz=\(o.nz) ngf=\(o.ngf) from \(model) (\(epoch ?? "latest"))")
            }
            let request = GeneratorRequest(which: which, direction: direction.flatMap(TrainingOptions.Direction.init), epoch: epoch)
            let source = try GeneratorSource.resolve(url, request)
            let generator = try source.load(flags: architecture.overrides).0
            if eval && generator.architecture.norm != .batch {
                StandardStreams.error("gantry: note: --eval changes nothing for \(generator.architecture.name) with \(generator.architecture.norm.rawValue) norm\n")
            }
            return (.generator(generator), "\(generator.architecture) from \(source.url.path)")
        } catch let e as TrainingError {
            throw fail(e)
        } catch let e as CheckpointError {
            throw fail(e.description)
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail("\(model): \(commandLineMessage(error))")
        }
    }
}
