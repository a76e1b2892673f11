import Engine
import Foundation

/// An error about a model: a checkpoint that does not fit an architecture, or an input the
/// network cannot take.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case unknownArchitecture, architectureMismatch, invalidInput, invalidCondition, nonFiniteOutput
    }

    public let code: Code
    public let message: String
    /// For `invalidCondition`: what exactly is wrong, so a command can word it with its own flags.
    public let condition: ConditionProblem?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        self.condition = nil
    }

    /// An `invalidCondition` error with the library's wording of `problem`.
    public init(_ problem: ConditionProblem) {
        code = .invalidCondition
        message = problem.message
        condition = problem
    }

    public var description: String { message }
}

/// A generator network with its weights: build one from an architecture, then load a
/// checkpoint into it (see `Generator.load`).
public final class Generator {
    public let architecture: GeneratorArchitecture
    /// The PyTorch-shaped module tree; `root.namedTensors()` are the state_dict entries.
    public let root: Module

    /// Builds the network with zeroed weights; throws when its memory cannot be had. Sizes from a
    /// file go through `Generator.load`, which bounds them first.
    public init(_ architecture: GeneratorArchitecture) throws {
        self.architecture = architecture
        switch architecture.family {
        case .resnet: root = try ResnetGenerator.make(architecture)
        case .unet: root = try UnetGenerator.make(architecture)
        case .stargan: root = try StarGANGenerator.make(architecture)
        }
    }

    /// Number of trainable parameters (what the reference prints as "Total number of parameters").
    public var parameterCount: Int {
        root.namedTensors().filter { !$0.isBuffer }.reduce(0) { $0 + $1.value.count }
    }

    /// Runs the network on `image` (N×C×H×W in [-1, 1]). StarGAN needs `condition` (N×c_dim).
    public func forward(_ image: Tensor, condition: Tensor? = nil, context: ForwardContext) throws -> Tensor {
        try forward(Variable(image), condition: condition, ForwardPass(context)).data
    }

    /// The differentiable forward of training (batch statistics, stochastic dropout, running
    /// statistics updated).
    public func forward(_ image: Variable, condition: Tensor? = nil, context: TrainingContext) throws -> Variable {
        try forward(image, condition: condition, ForwardPass(context))
    }

    /// StarGAN's labels are data, as in its solver: no gradient reaches them.
    private func forward(_ image: Variable, condition: Tensor?, _ pass: ForwardPass) throws -> Variable {
        try validate(image.shape, condition: condition?.shape)
        guard let condition else { return try root.forward(image, pass) }
        let labels = Variable(try labelPlanes(condition, height: image.shape[2], width: image.shape[3]))
        return try root.forward(concatChannels([image, labels]), pass)
    }

    /// CUT's `netG(x, nce_layers, encode_only=True)`: the outputs of the network's Sequential
    /// layers at `layers` (ascending indices of `model.<i>`), running no further than the last.
    public func features(_ image: Variable, layers: [Int], context: TrainingContext) throws -> [Variable] {
        try validate(image.shape, condition: nil)
        guard architecture.family == .resnet, let net = root.children.first?.module as? Sequential else {
            throw ModelError(.invalidInput, "\(architecture.name): encoder features are taken from ResNet generators only")
        }
        return try net.tapped(image, ForwardPass(context), at: layers)
    }

    /// Every trainable parameter with its state_dict key (what the optimizer updates).
    public var parameters: [(name: String, variable: Variable)] { root.parameters() }

    /// Throws when the network cannot take an input of this shape (and labels of that shape).
    /// Refuses an input shape or condition the network cannot take (one message each).
    func validate(_ shape: [Int], condition: [Int]?) throws {
        let a = architecture
        guard shape.count == 4, shape[1] == a.inputChannels else {
            throw ModelError(.invalidInput, "\(a.name) expects N×\(a.inputChannels)×H×W input, got \(shape)")
        }
        let (h, w) = (shape[2], shape[3])
        if a.requiresExactMultiple && (h % a.sizeMultiple != 0 || w % a.sizeMultiple != 0) {
            throw ModelError(.invalidInput, "\(a.name) needs height and width divisible by \(a.sizeMultiple) (2^num_downs); got \(w)×\(h). Pad or resize the image first")
        }
        let minimum = a.family == .resnet ? 4 : a.sizeMultiple
        guard h >= minimum, w >= minimum else {
            throw ModelError(.invalidInput, "\(a.name) needs images of at least \(minimum)×\(minimum); got \(w)×\(h)")
        }
        guard a.family == .stargan else {
            if condition != nil { throw ModelError(.invalidCondition, "\(a.name) takes no condition labels") }
            return
        }
        guard let condition else {
            throw ModelError(.missing(labels: a.conditionChannels))
        }
        guard condition == [shape[0], a.conditionChannels] else {
            throw ModelError(.invalidCondition, "condition has shape \(condition); this model takes \(a.conditionChannels) values per image")
        }
    }

    /// Fills weights like the reference's `init_weights('normal', 0.02)`, for benchmarks and tests.
    public func initializeRandomly(seed: UInt64, gain: Float = 0.02) throws {
        let random = RandomSource(seed: seed)
        func normal() -> Float {
            // Box–Muller: enough for weight init.
            let u1 = max(random.nextUnit(), 1e-7), u2 = random.nextUnit()
            return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
        }
        for module in root.modules(of: Module.self) {
            for (name, value) in module.tensors where !module.bufferNames.contains(name) {
                let t = try Tensor(uninitialized: value.shape)
                let isNormWeight = module is Norm2d && name == "weight"
                t.withUnsafeMutableBufferPointer { p in
                    for i in p.indices {
                        p[i] = name == "bias" ? 0 : (isNormWeight ? 1 : 0) + gain * normal()
                    }
                }
                module.setTensor(name, t)
            }
        }
    }
}
