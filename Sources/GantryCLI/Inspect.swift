import AtomicFiles
import ArgumentParser
import Checkpoints
import Foundation
import Models
import Runs
import Training

/// `gantry inspect CKPT`: what a checkpoint holds and how Gantry will run it.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's format, detected architecture and size constraints, or summarise a training run.",
        discussion: "Reads PyTorch (.pth/.ckpt, zip and legacy formats) and safetensors files without running any code from them. Given a run folder (config.yaml beside its checkpoints): the model, its networks, epochs done and saved, the last losses and the key options. Exits 1 with a one-line reason when a file cannot be used."
    )

    @Argument(help: "Checkpoint file, or a `gantry train` run folder.")
    var checkpoint: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @OptionGroup var architecture: ArchitectureOptions

    func run() throws {
        let url = URL(fileURLWithPath: checkpoint)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            guard TrainedRun.isRunFolder(url) else {
                throw fail("\(checkpoint): a folder but not a run folder (no config.yaml beside losses.jsonl or <epoch>_net_<name>.pth files); inspect one checkpoint file instead")
            }
            return try inspectRun(url)
        }
        let file: Checkpoint
        do {
            file = try Checkpoint.load(contentsOf: url)
        } catch {
            throw fail(error.description)
        }
        if DiscriminatorDetection.family(of: file.stateDict) != nil { return try inspectDiscriminator(file) }
        let summary: CheckpointSummary
        do {
            let (generator, report) = try Generator.load(file, overrides: architecture.overrides)
            summary = CheckpointSummary(path: checkpoint, format: file.format, generator: generator, report: report,
                                        tensorCount: file.stateDict.count)
        } catch {
            throw fail("\(checkpoint): \(error)")
        }
        try printSummary(summary, text: summary.text)
    }

    func printSummary<T: Encodable>(_ summary: T, text: String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(text)
        }
    }
}

/// Prints a one-line error to stderr and returns the exit code to throw.
func fail(_ message: String, code: Int32 = 1) -> ExitCode {
    StandardStreams.error("gantry: error: \(message)\n")
    return ExitCode(code)
}

/// A training library error: a choice the run does not offer is a usage error (64); a file
/// that is not what `gantry train` writes is a failure (1).
func fail(_ error: TrainingError) -> ExitCode {
    fail(error.message, code: [.invalidSetting, .notInRun].contains(error.code) ? 64 : 1)
}

/// What `inspect` reports, in one place for the text and JSON forms.
struct CheckpointSummary: Encodable {
    struct SizeConstraint: Encodable {
        var multiple: Int
        var required: Bool
        var description: String
    }

    var path: String
    var format: String
    var kind = "generator"
    var family: String
    var network: String
    var architecture: GeneratorArchitecture
    var parameters: Int
    var tensorsInFile: Int
    var inputChannels: Int
    var outputChannels: Int
    var conditionChannels: Int
    var size: SizeConstraint
    var normalisations: [String]
    var assumptions: [String]
    /// "colorization" for the reference's colorization generator (L in, ab out); nil otherwise.
    var model: String?

    init(path: String, format: CheckpointFormat, generator: Generator, report: LoadReport, tensorCount: Int) {
        let a = generator.architecture
        self.path = path
        self.format = format.rawValue
        family = a.family.rawValue
        network = a.name
        architecture = a
        parameters = generator.parameterCount
        tensorsInFile = tensorCount
        inputChannels = a.inputChannels
        outputChannels = a.outputChannels
        conditionChannels = a.conditionChannels
        let sizeText: String
        switch a.family {
        case .resnet: sizeText = "any size; output is 4·ceil(H/4) × 4·ceil(W/4), so sides that are multiples of 4 keep their size"
        case .stargan: sizeText = "any size; output is 4·floor(H/4) × 4·floor(W/4), so sides that are multiples of 4 keep their size"
        case .unet: sizeText = "height and width must be divisible by \(a.sizeMultiple) (2^\(a.depth)); other sizes cannot run"
        }
        size = SizeConstraint(multiple: a.sizeMultiple, required: a.requiresExactMultiple, description: sizeText)
        normalisations = report.notes
        assumptions = report.assumptions
        model = a.predictsAB ? "colorization" : nil
    }

    var text: String {
        let a = architecture
        let isCUT = a.antialias || a.antialiasUp
        let familyName = isCUT ? "CUT/FastCUT ResnetGenerator"
            : ["resnet": "pix2pix/CycleGAN ResnetGenerator", "unet": "pix2pix/CycleGAN UnetGenerator",
               "stargan": "StarGAN Generator"][family]!
        var details = ["ngf \(a.ngf)", "norm \(a.norm.rawValue)"]
        switch a.family {
        case .resnet:
            details += ["\(a.depth) residual blocks", a.dropout ? "dropout" : "no dropout"]
            if isCUT {
                details.append(a.antialias && a.antialiasUp ? "anti-aliased down- and up-sampling"
                               : a.antialias ? "anti-aliased down-sampling (--no_antialias_up)" : "anti-aliased up-sampling (--no_antialias)")
            }
        case .unet: details += ["num_downs \(a.depth)", a.dropout ? "dropout" : "no dropout"]
        case .stargan: details += ["repeat_num \(a.depth)", "c_dim \(a.conditionChannels)"]
        }
        var lines = [
            "file:        \(path)",
            "format:      \(format)",
            "network:     \(network) (\(familyName))",
            "             \(details.joined(separator: ", "))",
            "channels:    \(inputChannels) → \(outputChannels)" + (conditionChannels > 0 ? " (+\(conditionChannels) label planes)" : "")
                + (a.predictsAB ? " (colorization: L of CIELab in, ab out; convert gives the photo's own L with these ab)" : ""),
            "parameters:  \(parameters.formatted()) (\(tensorsInFile) tensors in file)",
            "input size:  \(size.description)",
        ]
        lines.append("normalised:  " + (normalisations.isEmpty ? "nothing needed" : normalisations.joined(separator: "\n             ")))
        if !assumptions.isEmpty { lines.append("assumed:     " + assumptions.joined(separator: "\n             ")) }
        return lines.joined(separator: "\n")
    }
}
