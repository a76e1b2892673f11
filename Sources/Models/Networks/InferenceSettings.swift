import Engine
import Foundation

/// The reference test script's behaviour switches, as one value every command shares:
/// `--eval`, `--dropout --seed N`, and StarGAN's `--condition` / `--domain`.
public struct InferenceSettings: Sendable, Equatable {
    /// Use BatchNorm running statistics instead of each image's own.
    public var eval: Bool
    /// Stochastic dropout; nil keeps output deterministic.
    public var dropoutSeed: UInt64?
    /// StarGAN target labels, one per label plane.
    public var condition: [Float]?
    /// StarGAN one-hot target domain (0-based).
    public var domain: Int?

    public init(eval: Bool = false, dropoutSeed: UInt64? = nil, condition: [Float]? = nil, domain: Int? = nil) {
        self.eval = eval
        self.dropoutSeed = dropoutSeed
        self.condition = condition
        self.domain = domain
    }

    /// Parses `0,1,0,1,1`.
    public static func parseCondition(_ text: String) throws -> [Float] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map {
            Float($0.trimmingCharacters(in: .whitespaces))
        }
        guard !values.isEmpty, values.allSatisfy({ $0?.isFinite == true }) else {
            throw ModelError(.invalidCondition, "--condition must be comma-separated numbers, e.g. 0,1,0,1,1; got '\(text)'")
        }
        return values.map { $0! }
    }

    /// The label vector for `architecture` (nil for networks without labels), checked against its c_dim.
    public func conditionVector(for architecture: GeneratorArchitecture) throws -> [Float]? {
        guard architecture.family == .stargan else {
            if condition != nil || domain != nil {
                throw ModelError(.invalidCondition, "--condition/--domain apply to StarGAN models; this is \(architecture.name)")
            }
            return nil
        }
        let k = architecture.conditionChannels
        if condition != nil && domain != nil {
            throw ModelError(.invalidCondition, "give either --condition or --domain, not both")
        }
        if let domain {
            guard (0..<k).contains(domain) else {
                throw ModelError(.invalidCondition, "--domain \(domain) is out of range: this model has \(k) domains (0…\(k - 1))")
            }
            return (0..<k).map { $0 == domain ? 1 : 0 }
        }
        guard let condition else {
            let example = Array(repeating: "0", count: k).joined(separator: ",")
            throw ModelError(.invalidCondition, "this StarGAN model needs --condition with \(k) values (e.g. \(example)) or --domain K")
        }
        guard condition.count == k else {
            throw ModelError(.invalidCondition, "--condition has \(condition.count) values; this model takes \(k) (one per label plane)")
        }
        return condition
    }

    /// The same labels for each of `batch` images, as the N×c_dim tensor `Generator.forward` takes.
    public func conditionTensor(for architecture: GeneratorArchitecture, batch: Int) throws -> Tensor? {
        guard let v = try conditionVector(for: architecture) else { return nil }
        return try Tensor(shape: [batch, v.count], values: Array((0..<batch).map { _ in v }.joined()))
    }

    /// A forward context on `backend` with these switches.
    public func context(backend: ConvolutionBackend) -> ForwardContext {
        ForwardContext(backend: backend, batchNorm: eval ? .runningStatistics : .batchStatistics,
                       dropout: dropoutSeed.map { RandomSource(seed: $0) })
    }
}
