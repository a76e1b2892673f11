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
            throw ModelError(.notNumbers(text))
        }
        return values.map { $0! }
    }

    /// The label vector for `architecture` (nil for networks without labels), checked against its c_dim.
    public func conditionVector(for architecture: GeneratorArchitecture) throws -> [Float]? {
        guard architecture.family == .stargan else {
            if condition != nil || domain != nil {
                throw ModelError(.notStarGAN(architecture: architecture.name))
            }
            return nil
        }
        let k = architecture.conditionChannels
        if condition != nil && domain != nil {
            throw ModelError(.conditionAndDomain)
        }
        if let domain {
            guard (0..<k).contains(domain) else {
                throw ModelError(.domainOutOfRange(domain: domain, domains: k))
            }
            return (0..<k).map { $0 == domain ? 1 : 0 }
        }
        guard let condition else {
            throw ModelError(.missing(labels: k))
        }
        guard condition.count == k else {
            throw ModelError(.wrongCount(given: condition.count, labels: k))
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

/// What is wrong with a StarGAN label request. The library words it with the settings' own names
/// ("condition", "domain", which are also the pipeline keys); a command words it with its flags.
public enum ConditionProblem: Sendable, Equatable {
    /// The text given is not a comma-separated list of finite numbers.
    case notNumbers(String)
    /// Labels were given for a network that takes none.
    case notStarGAN(architecture: String)
    /// Both a label vector and a one-hot domain were given.
    case conditionAndDomain
    case domainOutOfRange(domain: Int, domains: Int)
    /// A StarGAN network got no labels.
    case missing(labels: Int)
    case wrongCount(given: Int, labels: Int)

    /// A label vector for `labels` planes, for messages.
    public static func example(_ labels: Int) -> String { Array(repeating: "0", count: labels).joined(separator: ",") }

    public var message: String {
        switch self {
        case .notNumbers(let text): "a condition must be comma-separated numbers, e.g. 0,1,0,1,1; got '\(text)'"
        case .notStarGAN(let name): "a condition or domain applies to StarGAN models; this is \(name)"
        case .conditionAndDomain: "give either a condition or a domain, not both"
        case .domainOutOfRange(let d, let k): "domain \(d) is out of range: this model has \(k) domains (0…\(k - 1))"
        case .missing(let k): "this StarGAN model needs a condition of \(k) values (e.g. \(Self.example(k))) or a domain"
        case .wrongCount(let n, let k): "the condition has \(n) values; this model takes \(k) (one per label plane)"
        }
    }
}
