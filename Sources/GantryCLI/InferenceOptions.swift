import ArgumentParser
import Engine
import Models

/// The reference test script's behaviour switches, shared by every command that runs a generator.
struct InferenceOptions: ParsableArguments {
    @Flag(help: "Use BatchNorm running statistics (PyTorch eval mode). Default: statistics of each image, as the reference test.py does.")
    var eval = false

    @Flag(help: "Stochastic dropout, as the reference test.py runs pix2pix. Default: off, so output is deterministic.")
    var dropout = false

    @Option(help: "Seed for --dropout.")
    var seed: UInt64?

    @Option(help: "StarGAN target labels, one value per label plane, e.g. 0,1,0,1,1.")
    var condition: String?

    @Option(help: "StarGAN one-hot target domain K (0-based): shorthand for --condition with a single 1.")
    var domain: Int?

    @Option(help: "Convolution algorithm: winograd (fast, default) or direct (closest to PyTorch).")
    var algorithm: DNNLBackend.Algorithm = .winograd

    @Option(help: "Threads for the compute library (default: one per core).")
    var threads: Int?

    func validate() throws {
        if seed != nil && !dropout { throw ValidationError("--seed only applies with --dropout") }
        if condition != nil && domain != nil { throw ValidationError("give either --condition or --domain, not both") }
        if let domain, domain < 0 { throw ValidationError("--domain must be 0 or more") }
        if let condition { _ = try Self.parseCondition(condition) }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    static func parseCondition(_ text: String) throws -> [Float] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        let values = parts.map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw ValidationError("--condition must be comma-separated numbers, e.g. 0,1,0,1,1; got '\(text)'")
        }
        return values.map { $0! }
    }

    /// The condition vector for `architecture`, checked against its c_dim.
    func conditionVector(for architecture: GeneratorArchitecture) throws -> [Float]? {
        guard architecture.family == .stargan else {
            if condition != nil || domain != nil {
                throw ValidationError("--condition/--domain apply to StarGAN models; this is \(architecture.name)")
            }
            return nil
        }
        let k = architecture.conditionChannels
        if let domain {
            guard domain < k else { throw ValidationError("--domain \(domain) is out of range: this model has \(k) domains (0…\(k - 1))") }
            return (0..<k).map { $0 == domain ? 1 : 0 }
        }
        guard let condition else {
            throw ValidationError("this StarGAN model needs --condition with \(k) values (e.g. \(Array(repeating: "0", count: k).joined(separator: ","))) or --domain K")
        }
        let values = try Self.parseCondition(condition)
        guard values.count == k else {
            throw ValidationError("--condition has \(values.count) values; this model takes \(k) (one per label plane)")
        }
        return values
    }

    func makeContext() throws -> ForwardContext {
        ForwardContext(backend: try DNNLBackend(algorithm: algorithm, threads: threads),
                       batchNorm: eval ? .runningStatistics : .batchStatistics,
                       dropout: dropout ? RandomSource(seed: seed ?? UInt64.random(in: 0...UInt64.max)) : nil)
    }
}

extension DNNLBackend.Algorithm: ExpressibleByArgument {}
