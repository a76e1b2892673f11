import ArgumentParser
import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Pipeline

/// `gantry convert IN -m CKPT -o OUT`: every image under IN translated into OUT.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a folder (or one file) of photos with a generator, at their own resolution.",
        discussion: """
            Mirrors IN's folder tree under OUT as <stem><suffix>.<ext>. Outputs appear only when complete, \
            existing outputs are never replaced without --overwrite, and a bad input is reported and skipped \
            without stopping the batch. Exit status: 0 all converted (or skipped), 1 some inputs failed, \
            64 usage error, 130 interrupted.
            """
    )

    @Argument(help: "Input folder (searched recursively) or image file.") var input: String
    @Option(name: [.short, .customLong("model")], help: "Checkpoint file, or a checkpoint folder (with --direction).") var model: String?
    @Option(name: [.short, .customLong("output")], help: "Output folder (or file name for a single input).") var output: String
    @Option(help: "Pipeline file (YAML, see pipelines/); flags given here override it.") var pipeline: String?
    @Option(help: "AtoB or BtoA: picks latest_net_G_A.pth or latest_net_G_B.pth from a checkpoint folder.") var direction: String?
    @Option(help: "Output format: png, jpg or same (default png).") var format: OutputFormat?
    @Option(help: "JPEG quality 1–100 (default 95).") var quality: Int?
    @Option(help: "Sizing: native (default: keep size), resize, scale-width, resize-and-crop, none (reference behaviours).") var preprocess: String?
    @Option(name: .customLong("load-size"), help: "The reference's load_size for resize / scale-width (default 256).") var loadSize: Int?
    @Option(name: .customLong("crop-size"), help: "The reference's crop_size (default: load size).") var cropSize: Int?
    @Option(name: .customLong("max-side"), help: "Shrink images whose longer side exceeds this first.") var maxSide: Int?
    @Option(name: .customLong("memory-limit"), help: "Memory for inference, e.g. 8G (default: 70% of available memory); larger images run in tiles.") var memoryLimit: String?
    @Option(help: "Threads for load:process:save stages (default 1:1:1).") var jobs: String?
    @Option(help: "Run up to N same-size images through the network together (default 1).") var batch: Int?
    @Option(help: "Text added to each output file name before the extension.") var suffix: String?
    @Flag(help: "Replace existing outputs.") var overwrite = false
    @Flag(name: .customLong("skip-existing"), help: "Keep existing outputs and skip their inputs (resume).") var skipExisting = false
    @Flag(name: .customLong("dry-run"), help: "List what would be done; write nothing.") var dryRun = false
    @Option(help: "Process only shard I of N (0-based), chosen by relative path: N machines split a folder.") var shard: String?
    @Option(help: "Write one JSON line per input (status, output, timings, error) to this file.") var report: String?
    @Flag(name: .shortAndLong, help: "Print nothing but errors that stop the run.") var quiet = false
    @Flag(name: .shortAndLong, help: "Print a line per file.") var verbose = false
    @OptionGroup var inference: InferenceOptions
    @OptionGroup var architecture: ArchitectureOptions

    func validate() throws {
        if overwrite && skipExisting { throw ValidationError("--overwrite and --skip-existing contradict each other") }
        if quiet && verbose { throw ValidationError("--quiet and --verbose contradict each other") }
        if let quality, !(1...100).contains(quality) { throw ValidationError("--quality must be from 1 to 100") }
        if let jobs, ConvertConfiguration.Jobs(jobs) == nil { throw ValidationError("--jobs must look like 1:1:2 (load:process:save)") }
        if let shard, Shard(shard) == nil { throw ValidationError("--shard must be I/N with 0 ≤ I < N, e.g. 0/4") }
        if let memoryLimit, MemoryBudget.parse(memoryLimit) == nil { throw ValidationError("--memory-limit must be a size like 4G or 800M") }
        if let preprocess, !PreprocessPolicy.names.contains(preprocess) {
            throw ValidationError("--preprocess must be one of \(PreprocessPolicy.names.joined(separator: ", "))")
        }
        if let direction, !["AtoB", "BtoA"].contains(direction) { throw ValidationError("--direction must be AtoB or BtoA") }
        for (name, v) in [("--batch", batch), ("--load-size", loadSize), ("--crop-size", cropSize), ("--max-side", maxSide)] {
            if let v, v < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if model == nil && pipeline == nil { throw ValidationError("give a model with -m (or a --pipeline file that names one)") }
    }

    func run() throws {
        let definition = try pipeline.map { p in
            do { return try PipelineDefinition.load(contentsOf: URL(fileURLWithPath: p)) } catch { throw fail("\(error)", code: 64) }
        } ?? PipelineDefinition()
        let modelURL = try resolveModel(definition)
        let generator: Generator
        do {
            generator = try Generator.load(contentsOf: modelURL, overrides: architecture.overrides).0
        } catch let e as CheckpointError {
            throw fail(e.description)
        } catch {
            throw fail("\(modelURL.path): \(error)")
        }
        let config = try configuration(definition)
        do { _ = try config.settings.conditionVector(for: generator.architecture) } catch { throw fail("\(error)", code: 64) }

        let inputURL = URL(fileURLWithPath: input), outputURL = URL(fileURLWithPath: output)
        let discovery: Discovery
        do {
            discovery = try Discovery.discover(input: inputURL, output: outputURL, format: config.format,
                                               suffix: suffix ?? definition.suffix ?? "", shard: shard.flatMap(Shard.init))
        } catch { throw fail("\(error)", code: 64) }
        for p in discovery.problems where !quiet { warn("skipped \(p.path): \(p.reason)") }
        for r in discovery.renamed where !quiet { warn("\(r.input) -> \(r.output) (another input already maps to the plain name)") }

        if dryRun {
            let pre = Preprocessor(policy: config.preprocess, maxSide: config.maxSide, architecture: generator.architecture)
            print("model: \(modelURL.path) (\(generator.architecture.name)); preprocess: \(config.preprocess); format: \(config.format.rawValue)")
            for item in discovery.items {
                let exists = FileManager.default.fileExists(atPath: item.output.path)
                let action = exists ? (config.overwrite ? "replace" : (config.skipExisting ? "skip (exists)" : "fail (exists)")) : "convert"
                var size = ""
                if let data = try? Data(contentsOf: item.input, options: .mappedIfSafe),
                   let h = try? ImageCodec.readHeader(data, path: item.input.path),
                   let planned = try? pre.plannedSize(width: h.orientation >= 5 ? h.height : h.width,
                                                      height: h.orientation >= 5 ? h.width : h.height) {
                    size = " [\(planned.output.w)×\(planned.output.h)]"
                }
                print("\(action): \(item.relativePath) -> \(item.output.path)\(size)")
            }
            print("\(discovery.items.count) to consider, \(discovery.nonImages.count) non-image files skipped")
            return
        }

        try? FileManager.default.createDirectory(at: outputURL.hasDirectoryPath || discovery.items.count != 1
                                                 ? outputURL : outputURL.deletingLastPathComponent(),
                                                 withIntermediateDirectories: true)
        AtomicWriter.removeStaleTemporaries(under: outputURL)
        let reportHandle = try report.map { path -> FileHandle in
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw fail("\(path): cannot create the report file", code: 64)
            }
            return h
        }
        let printer = ProgressPrinter(total: discovery.items.count, style: quiet ? .quiet : ProgressPrinter.defaultStyle,
                                      verbose: verbose, report: reportHandle)
        for name in discovery.nonImages {
            let r = ItemResult(input: inputURL.appendingPathComponent(name).path, output: nil, status: .skipped,
                               error: "not an image (by extension)")
            if let reportHandle, let line = try? JSONEncoder().encode(r) { reportHandle.write(line + Data("\n".utf8)) }
        }
        let job = ConvertJob(generator: generator, configuration: config, observer: printer)
        let signals = SignalWatcher { job.cancel() }
        let summary = try job.run(discovery.items, threads: inference.engine.threads ?? definition.threads,
                                  algorithm: inference.engine.algorithm ?? definition.algorithm.flatMap(DNNLBackend.Algorithm.init) ?? .winograd)
        withExtendedLifetime(signals) {}
        var extra: [String] = []
        if !discovery.nonImages.isEmpty { extra.append("\(discovery.nonImages.count) non-image files ignored") }
        if !discovery.problems.isEmpty { extra.append("\(discovery.problems.count) paths could not be read") }
        printer.finish(summary, extra: extra)
        try? reportHandle?.close()
        if summary.interrupted { throw ExitCode(130) }
        if summary.failed > 0 || !discovery.problems.isEmpty { throw ExitCode(1) }
    }

    private func resolveModel(_ d: PipelineDefinition) throws -> URL {
        let named: URL?
        do { named = try model.map { URL(fileURLWithPath: $0) } ?? d.modelURL() } catch { throw fail("\(error)", code: 64) }
        guard let url = named else {
            throw fail("no model: give -m or a pipeline file with 'model'", code: 64)
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw fail("\(url.path): model file not found", code: 64)
        }
        guard isDir.boolValue else { return url }
        // A checkpoint folder as the reference writes it: pick the generator for the direction.
        let dir = direction ?? d.direction
        let names = dir == "BtoA" ? ["latest_net_G_B.pth"] : dir == "AtoB" ? ["latest_net_G_A.pth", "latest_net_G.pth"]
            : ["latest_net_G.pth"]
        for n in names where FileManager.default.fileExists(atPath: url.appendingPathComponent(n).path) {
            return url.appendingPathComponent(n)
        }
        throw fail("\(url.path): a folder, but no \(names.joined(separator: " or ")) in it\(dir == nil ? " (use --direction AtoB or BtoA for CycleGAN folders)" : "")", code: 64)
    }

    /// Pipeline file values, overridden by flags given on the command line.
    private func configuration(_ d: PipelineDefinition) throws -> ConvertConfiguration {
        var c = ConvertConfiguration()
        let load = loadSize ?? d.loadSize ?? 256
        c.preprocess = PreprocessPolicy.named(preprocess ?? d.preprocess ?? "native", loadSize: load, cropSize: cropSize ?? d.cropSize)!
        c.maxSide = maxSide ?? d.maxSide
        c.format = format ?? d.format ?? .png
        c.quality = quality ?? d.quality ?? 95
        c.overwrite = overwrite
        c.skipExisting = skipExisting
        c.jobs = jobs.flatMap(ConvertConfiguration.Jobs.init) ?? d.jobs ?? c.jobs
        c.batch = batch ?? d.batch ?? 1
        c.memory = memoryLimit.flatMap(MemoryBudget.parse) ?? d.memoryLimit ?? c.memory
        var s = try inference.settings()
        if !inference.eval, d.eval == true { s.eval = true }
        if !inference.dropout, d.dropout == true { s.dropoutSeed = d.seed ?? UInt64.random(in: 0...UInt64.max) }
        if inference.condition == nil, inference.domain == nil {
            s.condition = d.condition
            s.domain = d.domain
        }
        c.settings = s
        return c
    }
}

extension OutputFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument == "jpeg" ? "jpg" : argument) }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("gantry: \(message)\n".utf8))
}

/// Turns SIGINT/SIGTERM into a call (stop taking inputs, finish those in flight).
final class SignalWatcher {
    private var sources: [DispatchSourceSignal] = []

    init(_ handler: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler(handler: handler)
            s.resume()
            sources.append(s)
        }
    }

    deinit {
        for s in sources { s.cancel() }
    }
}
