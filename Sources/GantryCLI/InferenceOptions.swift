import ArgumentParser
import Engine
import Models
import Pipeline

/// The reference test script's behaviour switches, shared by every command that runs a generator.
struct InferenceOptions: ParsableArguments {
    @Flag(help: "Use BatchNorm running statistics (PyTorch eval mode). Default: statistics of each image, as the reference test.py does.")
    var eval = false

    @Flag(help: "Stochastic dropout, as the reference test.py runs pix2pix. Default: off, so output is deterministic.")
    var dropout = false

    @Option(help: "Seed for --dropout (default: random).")
    var seed: UInt64?

    @Option(help: "StarGAN target labels, one value per label plane, e.g. 0,1,0,1,1.")
    var condition: String?

    @Option(help: "StarGAN one-hot target domain K (0-based): shorthand for --condition with a single 1.")
    var domain: Int?

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if seed != nil && !dropout { throw ValidationError("--seed only applies with --dropout") }
        if condition != nil && domain != nil { throw ValidationError("give either --condition or --domain, not both") }
        if let domain, domain < 0 { throw ValidationError("--domain must be 0 or more") }
        do { _ = try settings() } catch { throw ValidationError(commandLineMessage(error)) }
    }

    func settings() throws -> InferenceSettings {
        InferenceSettings(eval: eval, dropoutSeed: dropout ? (seed ?? UInt64.random(in: 0...UInt64.max)) : nil,
                          condition: try condition.map(InferenceSettings.parseCondition), domain: domain)
    }

    func backend() throws -> DNNLBackend { try engine.backend() }
}

/// How convolutions run: shared by commands that run generators and by `bench`.
struct EngineOptions: ParsableArguments {
    @Option(help: "Convolution algorithm: winograd (fast, default) or direct (closest to PyTorch).")
    var algorithm: DNNLBackend.Algorithm?

    @Option(help: "Threads for the compute library (default: one per core).")
    var threads: Int?

    @Option(help: ArgumentHelp("Whose Winograd runs 3×3 stride-1 layers: automatic (oneDNN's on AVX-512, Gantry's elsewhere), onednn, gantry.",
                               visibility: .hidden))
    var winograd: DNNLBackend.WinogradImplementation = .automatic

    @Option(help: ArgumentHelp("How strided transposed convolutions run: automatic (fused phases by Winograd or the phase split where each pays), onednn, phased, winograd.",
                               visibility: .hidden))
    var transposed: DNNLBackend.TransposedImplementation = .automatic

    @Option(help: ArgumentHelp("How strided convolutions run: automatic (Winograd over the space-to-depth grid where it pays), onednn, winograd.",
                               visibility: .hidden))
    var strided: DNNLBackend.StridedImplementation = .automatic

    func validate() throws {
        // As pipeline files bound it: far more threads than any machine has cores only fails in OpenMP.
        if let threads, !ConversionLimits.threads.contains(threads) {
            throw ValidationError("--threads must be between \(ConversionLimits.threads.lowerBound) and \(ConversionLimits.threads.upperBound), got \(threads)")
        }
    }

    /// `threads` overrides `--threads` (bench resolves the default to the core count).
    func backend(threads: Int? = nil) throws -> DNNLBackend {
        try DNNLBackend(algorithm: algorithm ?? .winograd, threads: threads ?? self.threads, winogradImplementation: winograd,
                        transposedImplementation: transposed, stridedImplementation: strided)
    }
}

extension DNNLBackend.Algorithm: ExpressibleByArgument {}
extension DNNLBackend.WinogradImplementation: ExpressibleByArgument {}
extension DNNLBackend.StridedImplementation: ExpressibleByArgument {}
extension DNNLBackend.TransposedImplementation: ExpressibleByArgument {}

extension ConditionProblem {
    /// The problem worded with `gantry`'s flags (the library words it with the settings' names).
    var flagMessage: String {
        switch self {
        case .notNumbers(let text): "--condition must be comma-separated numbers, e.g. 0,1,0,1,1; got '\(text)'"
        case .notStarGAN(let name): "--condition/--domain apply to StarGAN models; this is \(name)"
        case .conditionAndDomain: "give either --condition or --domain, not both"
        case .domainOutOfRange(let d, let k): "--domain \(d) is out of range: this model has \(k) domains (0…\(k - 1))"
        case .missing(let k): "this StarGAN model needs --condition with \(k) values (e.g. \(Self.example(k))) or --domain K"
        case .wrongCount(let n, let k): "--condition has \(n) values; this model takes \(k) (one per label plane)"
        }
    }
}

/// An error's line for the command line: StarGAN label problems in terms of `--condition` and
/// `--domain`, everything else as the library words it.
func commandLineMessage(_ error: any Error) -> String {
    if let e = error as? ModelError, let problem = e.condition { return problem.flagMessage }
    return "\(error)"
}
