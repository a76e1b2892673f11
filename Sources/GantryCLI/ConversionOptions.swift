import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Pipeline
import Runs

/// What `convert` and `watch` share: the model, a pipeline file, how images are sized and
/// written, and the generator's behaviour switches. Flags override the pipeline file.
struct ConversionOptions: ParsableArguments {
    @Option(name: [.short, .customLong("model")], help: "Checkpoint file, a `gantry train` run folder, or a folder of latest_net_G*.pth files.") var model: String?
    @Option(help: "Pipeline file (YAML, see pipelines/); flags given here override it.") var pipeline: String?
    @Option(help: "AtoB or BtoA, in the dataset's terms. Run folder: G for pix2pix; CycleGAN's G_A for the way it was trained, G_B for the other. Checkpoint folder: latest_net_G_A.pth or latest_net_G_B.pth.") var direction: String?
    @Option(help: "The network in a run folder: G (pix2pix), G_A or G_B (CycleGAN).") var which: String?
    @Option(help: "latest (default) or an epoch number saved in the run folder (<N>_net_<which>.pth).") var epoch: String?
    @Option(help: "Output format: png, jpg, tif, webp or same (default png; a single output file's extension decides). same keeps PNG, TIFF and WebP inputs in their format and writes the rest as JPEG.") var format: OutputFormat?
    @Option(help: "JPEG and lossy WebP quality 1–100 (default 95).") var quality: Int?
    @Flag(name: .customLong("lossless"), help: "Write WebP lossless (PNG and TIFF always are).") var losslessFlag = false
    @Option(help: "Sizing: native (default: keep size), resize, scale-width, resize-and-crop, none (pix2pix/CycleGAN test behaviours), centre-crop (StarGAN's: crop --crop-size, shorter side to --load-size).") var preprocess: String?
    @Option(name: .customLong("load-size"), help: "The reference's load_size for resize / scale-width; StarGAN's image_size for centre-crop (default 256).") var loadSize: Int?
    @Option(name: .customLong("crop-size"), help: "The reference's crop_size (default: load size).") var cropSize: Int?
    @Option(name: .customLong("max-side"), help: "Shrink images whose longer side exceeds this first.") var maxSide: Int?
    @Option(help: "Colorization models: clip (default, as the reference: each channel clipped) or keep-lightness (colours outside sRGB lose chroma instead, so the photo's lightness is kept exactly).") var gamut: String?
    @Option(name: .customLong("memory-limit"), help: "Memory for inference, e.g. 8G (default: 70% of available memory, or of the container's limit). A larger image runs layer by layer over bands of rows, with the same result; its activations beyond the limit go to --scratch.") var memoryLimit: String?
    @Option(help: "Folder for the activations of images too large for --memory-limit (default: $TMPDIR or /tmp). Needs about 3× the largest layer: e.g. 20 GB for a 24 MP photo with resnet_9blocks.") var scratch: String?
    @Option(help: "Threads for load:process:save stages (default 1:1:1; watch uses the process count as workers).") var jobs: String?
    @Option(help: "Text added to each output file name before the extension.") var suffix: String?
    @OptionGroup var inference: InferenceOptions
    @OptionGroup var architecture: ArchitectureOptions

    func validate() throws {
        if let quality, !ConversionLimits.quality.contains(quality) { throw ValidationError("--quality must be from \(ConversionLimits.quality.lowerBound) to \(ConversionLimits.quality.upperBound)") }
        if let jobs, ConversionPlan.Jobs(jobs) == nil { throw ValidationError("--jobs must look like 1:1:2 (load:process:save, each 1 to 64)") }
        if let memoryLimit, MemoryBudget.parse(memoryLimit) == nil { throw ValidationError("--memory-limit '\(memoryLimit)' must be a positive size like 4G or 800M (at most 1048576G)") }
        if let preprocess, !PreprocessPolicy.names.contains(preprocess) {
            throw ValidationError("--preprocess must be one of \(PreprocessPolicy.names.joined(separator: ", "))")
        }
        if let gamut, ColourGamut(rawValue: gamut) == nil { throw ValidationError("--gamut must be clip or keep-lightness, got '\(gamut)'") }
        if let direction, !["AtoB", "BtoA"].contains(direction) { throw ValidationError("--direction must be AtoB or BtoA") }
        if let epoch, epoch != "latest", Int(epoch).map({ $0 < 0 }) ?? true {
            throw ValidationError("--epoch must be latest or an epoch number, got '\(epoch)'")
        }
        if let suffix, let problem = OutputNaming.suffixProblem(suffix) { throw ValidationError("--suffix \(problem)") }
        for (name, v) in [("--load-size", loadSize), ("--crop-size", cropSize), ("--max-side", maxSide)] {
            if let v, !ConversionLimits.side.contains(v) { throw ValidationError("\(name) must be between 1 and \(DecodeLimits.largestSide), got \(v)") }
        }
        if let scratch {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: scratch, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--scratch \(scratch): not an existing folder")
            }
        }
        if model == nil && pipeline == nil { throw ValidationError("give a model with -m (or a --pipeline file that names one)") }
    }

    /// The pipeline file, if any (errors exit 64 naming file, line and key).
    func definition() throws -> PipelineDefinition {
        try pipeline.map { p in
            do { return try PipelineDefinition.load(contentsOf: URL(fileURLWithPath: p)) } catch { throw fail("\(error)", code: 64) }
        } ?? PipelineDefinition()
    }

    /// The generator to run: `-m`, else the pipeline file's; in a run folder or checkpoint folder
    /// `--which`, `--direction` and `--epoch` pick it (see `GeneratorSource`).
    func source(_ d: PipelineDefinition) throws -> GeneratorSource {
        let named: URL?
        do { named = try model.map { URL(fileURLWithPath: $0) } ?? d.modelURL() } catch { throw fail("\(error)", code: 64) }
        guard let url = named else { throw fail("no model: give -m or a pipeline file with 'model'", code: 64) }
        let request = GeneratorRequest(which: which, direction: (direction ?? d.direction).flatMap(TrainingOptions.Direction.init),
                                       epoch: epoch)
        do { return try GeneratorSource.resolve(url, request) } catch let e as TrainingError { throw fail(e) }
    }

    /// Loads the generator strictly; for a run folder with the architecture its config.yaml
    /// records (an architecture flag that contradicts it is an error).
    func loadGenerator(_ source: GeneratorSource) throws -> Generator {
        do {
            return try source.load(flags: architecture.overrides).0
        } catch let e as CheckpointError {
            throw fail(e.description)
        } catch let e as TrainingError {
            throw fail(e)
        } catch {
            throw fail("\(source.url.path): \(error)")
        }
    }

    /// The flags these options give (nil where not given); a command adds its own.
    func flags() throws -> ConvertFlags {
        var f = ConvertFlags()
        (f.preprocess, f.loadSize, f.cropSize, f.maxSide) = (preprocess, loadSize, cropSize, maxSide)
        f.gamut = gamut.flatMap(ColourGamut.init(rawValue:))
        (f.format, f.quality, f.jobs, f.suffix) = (format, quality, jobs.flatMap(ConversionPlan.Jobs.init), suffix)
        f.lossless = losslessFlag ? true : nil
        (f.threads, f.algorithm) = (inference.engine.threads, inference.engine.algorithm)
        f.memoryLimit = memoryLimit.flatMap(MemoryBudget.parse)
        f.scratch = scratch.map { URL(fileURLWithPath: $0) }
        f.settings = try inference.settings()
        return f
    }

    /// The plan: pipeline file values overridden by `flags` (the library's `ConversionPlan.resolve`;
    /// a condition that does not fit the model exits 64).
    func plan(_ d: PipelineDefinition, flags f: ConvertFlags, for generator: Generator) throws -> ConversionPlan {
        do { return try ConversionPlan.resolve(f, pipeline: d, architecture: generator.architecture) } catch {
            // Labels from the pipeline file are worded with its keys; otherwise with the flags.
            if let problem = (error as? ModelError)?.condition, inference.condition == nil, inference.domain == nil,
               let pipeline, problem != .missing(labels: generator.architecture.conditionChannels) {
                throw fail("\(pipeline): \(problem.message)", code: 64)
            }
            throw fail(commandLineMessage(error), code: 64)
        }
    }

}


