import Foundation
import Models

/// What a command line says about a conversion: nil (or unset in `settings`) where it says
/// nothing, so a pipeline file or the defaults decide.
public struct ConvertFlags: Sendable {
    public var preprocess: String?
    public var loadSize: Int?, cropSize: Int?, maxSide: Int?
    public var format: OutputFormat?
    public var quality: Int?
    public var jobs: ConvertConfiguration.Jobs?
    public var memoryLimit: MemoryBudget?
    public var scratch: URL?
    /// `eval` true, a dropout seed, a condition or a domain count as given.
    public var settings = InferenceSettings()

    public init() {}
}

extension ConvertConfiguration {
    /// Flags over the pipeline file over the defaults, option by option, with the StarGAN label
    /// vector checked against `architecture`. `convert`, `watch` and library users resolve alike.
    public static func resolve(_ flags: ConvertFlags, pipeline d: PipelineDefinition,
                               architecture: GeneratorArchitecture) throws -> ConvertConfiguration {
        var c = ConvertConfiguration()
        let name = flags.preprocess ?? d.preprocess ?? "native"
        guard let policy = PreprocessPolicy.named(name, loadSize: flags.loadSize ?? d.loadSize ?? 256,
                                                  cropSize: flags.cropSize ?? d.cropSize) else {
            throw PipelineError(.invalidDefinition, "preprocess '\(name)' is not one of \(PreprocessPolicy.names.joined(separator: ", "))")
        }
        c.preprocess = policy
        c.maxSide = flags.maxSide ?? d.maxSide
        c.format = flags.format ?? d.format ?? .png
        c.quality = flags.quality ?? d.quality ?? 95
        c.jobs = flags.jobs ?? d.jobs ?? c.jobs
        c.batch = d.batch ?? 1
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
