import Engine
import Foundation
import Imaging
import Models

/// Everything a conversion needs besides the model and the files, resolved once — defaults <
/// pipeline file < flags, by `ConversionPlan.resolve` — and taken as it is by `convert`
/// (`ConvertJob`) and `watch` (`WatchService`): sizing, format and naming, batching, threads and
/// their split between workers, the memory budget per worker, the buffer pool's limit, the
/// shard, and what to do with existing outputs.
public struct ConversionPlan: Sendable {
    /// Threads for decoding, inference and encoding (`--jobs L:P:S`).
    public struct Jobs: Sendable, Equatable, CustomStringConvertible {
        public var load: Int, process: Int, save: Int

        public init(load: Int, process: Int, save: Int) {
            (self.load, self.process, self.save) = (load, process, save)
        }

        /// Parses "1:1:2" (each part within `ConversionLimits.jobs`).
        public init?(_ text: String) {
            let p = text.split(separator: ":").compactMap { Int($0) }
            guard p.count == 3, p.allSatisfy({ ConversionLimits.jobs.contains($0) }) else { return nil }
            (load, process, save) = (p[0], p[1], p[2])
        }

        public var description: String { "\(load):\(process):\(save)" }
    }

    public var preprocess: PreprocessPolicy = .native
    public var maxSide: Int?
    /// A colorization model's colours outside sRGB: clipped (the reference) or kept at the input's L*.
    public var gamut = ColourGamut.clip
    public var format: OutputFormat = .png
    /// JPEG and lossy WebP quality.
    public var quality = 95
    /// WebP written lossless (PNG and TIFF always are; JPEG cannot be).
    public var lossless = false
    /// Added to each output's stem (`OutputNaming`).
    public var suffix = ""
    public var overwrite = false
    public var skipExisting = false
    /// Only this part of the inputs (`--shard I/N`).
    public var shard: Shard?
    public var jobs = Jobs(load: 1, process: 1, save: 1)
    /// Same-size images run through the network together, up to this many.
    public var batch = 1
    /// Compute threads over all inference workers; nil: one per core.
    public var threads: Int?
    public var algorithm = DNNLBackend.Algorithm.winograd
    public var memory = MemoryBudget.automatic
    /// Where images too large for `memory` keep their activations (`--scratch`; default the
    /// temporary folder).
    public var scratch: URL?
    public var settings = InferenceSettings()
    public var decodeLimits = DecodeLimits()

    public init() {}

    /// Each inference worker's share of the compute threads.
    public var threadsPerWorker: Int {
        max(1, (threads ?? ProcessInfo.processInfo.activeProcessorCount) / max(1, jobs.process))
    }

    /// One backend for one inference worker.
    public func makeBackend() throws -> DNNLBackend { try DNNLBackend(algorithm: algorithm, threads: threadsPerWorker) }

    /// The process-wide limits the plan implies: the buffer pool keeps at most the budget's
    /// share of freed buffers for reuse (the rest goes back to the system). Both front ends call
    /// it before converting.
    public func applyProcessLimits() { BufferPool.shared.idleLimit = memory.poolShare }
}

/// The bounds of every conversion setting, shared by the command-line flags and the pipeline
/// file's keys, so a value one accepts the other accepts too.
public enum ConversionLimits {
    /// `load-size`, `crop-size`, `max-side`: the decoder's largest side.
    public static let side = 1...DecodeLimits.largestSide
    public static let quality = 1...100
    public static let batch = 1...64
    /// Far more threads than any machine has cores only fails inside OpenMP.
    public static let threads = 1...1024
    /// Each of `jobs`' three counts.
    public static let jobs = 1...64
}

/// What a command line says about a conversion: nil (or unset in `settings`) where it says
/// nothing, so a pipeline file or the defaults decide.
public struct ConvertFlags: Sendable {
    public var preprocess: String?
    public var loadSize: Int?, cropSize: Int?, maxSide: Int?
    public var gamut: ColourGamut?
    public var format: OutputFormat?
    public var quality: Int?
    public var lossless: Bool?
    public var suffix: String?
    public var jobs: ConversionPlan.Jobs?
    public var batch: Int?
    public var threads: Int?
    public var algorithm: DNNLBackend.Algorithm?
    public var memoryLimit: MemoryBudget?
    public var scratch: URL?
    public var overwrite = false, skipExisting = false
    public var shard: Shard?
    /// `eval` true, a dropout seed, a condition or a domain count as given.
    public var settings = InferenceSettings()

    public init() {}
}

extension ConversionPlan {
    /// Flags over the pipeline file over the defaults, option by option, with the StarGAN label
    /// vector checked against `architecture`. `convert`, `watch` and library users resolve alike.
    public static func resolve(_ flags: ConvertFlags, pipeline d: PipelineDefinition,
                               architecture: GeneratorArchitecture) throws -> ConversionPlan {
        var c = ConversionPlan()
        let name = flags.preprocess ?? d.preprocess ?? "native"
        guard let policy = PreprocessPolicy.named(name, loadSize: flags.loadSize ?? d.loadSize ?? 256,
                                                  cropSize: flags.cropSize ?? d.cropSize) else {
            throw PipelineError(.invalidDefinition, "preprocess '\(name)' is not one of \(PreprocessPolicy.names.joined(separator: ", "))")
        }
        c.preprocess = policy
        c.maxSide = flags.maxSide ?? d.maxSide
        c.gamut = flags.gamut ?? d.gamut ?? .clip
        c.format = flags.format ?? d.format ?? .png
        c.quality = flags.quality ?? d.quality ?? 95
        c.lossless = flags.lossless ?? d.lossless ?? false
        if c.lossless && c.format == .jpg {
            throw PipelineError(.invalidDefinition, "lossless output needs format webp (or same with WebP inputs); JPEG cannot be lossless, and PNG and TIFF always are")
        }
        c.suffix = flags.suffix ?? d.suffix ?? ""
        if let problem = OutputNaming.suffixProblem(c.suffix) { throw PipelineError(.invalidDefinition, "suffix '\(c.suffix)' \(problem)") }
        (c.overwrite, c.skipExisting, c.shard) = (flags.overwrite, flags.skipExisting, flags.shard)
        c.jobs = flags.jobs ?? d.jobs ?? c.jobs
        c.batch = flags.batch ?? d.batch ?? 1
        c.threads = flags.threads ?? d.threads
        c.algorithm = flags.algorithm ?? d.algorithm.flatMap(DNNLBackend.Algorithm.init) ?? .winograd
        for (what, value, range) in [("batch", c.batch, ConversionLimits.batch), ("threads", c.threads ?? 1, ConversionLimits.threads),
                                     ("max-side", c.maxSide ?? 1, ConversionLimits.side), ("quality", c.quality, ConversionLimits.quality)]
            where !range.contains(value) {
            throw PipelineError(.invalidDefinition, "\(what) must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        c.memory = flags.memoryLimit ?? d.memoryLimit ?? c.memory
        c.scratch = flags.scratch ?? d.scratch
        var s = flags.settings
        if !s.eval, d.eval == true { s.eval = true }
        if s.dropoutSeed == nil, d.dropout == true { s.dropoutSeed = d.seed ?? UInt64.random(in: 0...UInt64.max) }
        if s.condition == nil, s.domain == nil {
            s.condition = d.condition
            s.domain = d.domain
        }
        _ = try s.conditionVector(for: architecture)
        c.settings = s
        return c
    }
}

/// The one rule for output names, `convert`'s and `watch`'s: `<relative dir>/<stem><suffix>.<ext>`,
/// the extension from the output format (`same` keeps PNG as PNG, everything else JPEG).
public enum OutputNaming {
    /// The output path, relative to the output folder, of the input at `relative`.
    public static func relativeOutput(for relative: String, suffix: String, format: OutputFormat) -> String {
        let dir = (relative as NSString).deletingLastPathComponent
        return (dir as NSString).appendingPathComponent(name(stem: stem(relative), suffix: suffix, format: format, input: relative))
    }

    /// `<stem><suffix>.<ext>`.
    public static func name(stem: String, suffix: String, format: OutputFormat, input: String) -> String {
        stem + suffix + "." + format.fileExtension(forInput: input)
    }

    static func stem(_ relative: String) -> String { ((relative as NSString).lastPathComponent as NSString).deletingPathExtension }

    /// Why `suffix` cannot be added to output names, or nil: it goes inside a file name, so a
    /// '/' would place outputs elsewhere (`--suffix /../x` wrote outside the output folder).
    public static func suffixProblem(_ suffix: String) -> String? {
        if suffix.contains("/") { return "must not contain '/': it is part of a file name" }
        if suffix.contains("\0") { return "must not contain a NUL character" }
        if suffix.utf8.count > 200 { return "is too long for a file name (\(suffix.utf8.count) bytes, 200 at most)" }
        return nil
    }
}
