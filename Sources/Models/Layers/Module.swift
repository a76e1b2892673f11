import Engine

/// How the generator behaves at inference, matching the reference test script's switches.
public struct ForwardContext {
    public enum BatchNormMode: Sendable {
        /// Statistics of the images being converted: what the reference `test.py` does, since it
        /// never calls `eval()` (and what pix2pix's authors intended).
        case batchStatistics
        /// Stored running statistics (`--eval`).
        case runningStatistics
    }

    public var backend: ConvolutionBackend
    public var batchNorm: BatchNormMode
    /// Stochastic dropout when set (`--dropout --seed N`); nil keeps output deterministic.
    public var dropout: RandomSource?
    /// BatchNorm batch statistics taken per image, so a batch of N gives each image exactly what a
    /// batch of one would (the reference test script's batch size); off means PyTorch's per-batch.
    public var batchStatisticsPerImage: Bool

    public init(backend: ConvolutionBackend, batchNorm: BatchNormMode = .batchStatistics, dropout: RandomSource? = nil,
                batchStatisticsPerImage: Bool = false) {
        self.backend = backend
        self.batchNorm = batchNorm
        self.dropout = dropout
        self.batchStatisticsPerImage = batchStatisticsPerImage
    }
}

/// How a network runs while it trains (PyTorch's `train()` mode): normalisation from the batch
/// being processed, running statistics updated as a side effect, and stochastic dropout.
public struct TrainingContext {
    public var backend: ConvolutionBackend
    /// Dropout's random source; nil turns dropout off (`--no_dropout` networks have none anyway).
    public var dropout: RandomSource?
    /// Weight of the newest batch in BatchNorm's running statistics (PyTorch's `momentum`).
    public var momentum: Float
    /// Off for forwards that must leave the buffers alone (e.g. drawing sample grids mid-run).
    public var updatesRunningStatistics: Bool

    public init(backend: ConvolutionBackend, dropout: RandomSource? = nil, momentum: Float = 0.1,
                updatesRunningStatistics: Bool = true) {
        self.backend = backend
        self.dropout = dropout
        self.momentum = momentum
        self.updatesRunningStatistics = updatesRunningStatistics
    }
}

/// A layer or container, named exactly like the PyTorch module it mirrors so that
/// `namedTensors()` produces the checkpoint's state_dict keys.
///
/// Subclasses register their own tensors (`weight`, `bias`, `running_mean`, …) in `tensors` with
/// their expected shapes, and their sub-modules in `children`.
open class Module {
    /// Own parameters and buffers by local name, in PyTorch's registration order.
    public internal(set) var tensors: [(name: String, value: Tensor)] = []
    /// Local names in `tensors` that are buffers (running statistics), not trainable parameters.
    public internal(set) var bufferNames: Set<String> = []
    /// Buffers a checkpoint may omit (BatchNorm's `num_batches_tracked` before PyTorch 0.4.1).
    public internal(set) var optionalNames: Set<String> = []
    public internal(set) var children: [(name: String, module: Module)] = []

    /// Autograd leaves over this module's own parameters, made on first use; they share storage
    /// with `tensors`, so an optimizer's in-place update is what inference sees.
    private var leaves: [String: Variable] = [:]

    public init() {}

    open func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor { x }

    /// The differentiable forward used in training; the identity for layers without one (pads
    /// of `--norm none`'s Identity, for example).
    open func forward(_ x: Variable, _ context: TrainingContext) throws -> Variable { x }

    /// The autograd leaf of parameter `name` (nil if the module has none of that name).
    public func variable(_ name: String) -> Variable? {
        if let v = leaves[name] { return v }
        guard let t = tensor(name), !bufferNames.contains(name) else { return nil }
        let v = Variable(t, requiresGrad: true)
        leaves[name] = v
        return v
    }

    /// Every trainable parameter under this module with its state_dict key, in state_dict order
    /// (what `net.parameters()` gives an optimizer).
    public func parameters(prefix: String = "") -> [(name: String, variable: Variable)] {
        var out: [(String, Variable)] = tensors.compactMap { entry in
            variable(entry.name).map { (prefix + entry.name, $0) }
        }
        for (name, child) in children { out += child.parameters(prefix: prefix + name + ".") }
        return out
    }

    /// Freezes or unfreezes every parameter below (the reference's `set_requires_grad`).
    public func setRequiresGrad(_ flag: Bool) {
        for (_, v) in parameters() { v.requiresGrad = flag }
    }

    func register(_ name: String, shape: [Int], buffer: Bool = false, optional: Bool = false) throws {
        tensors.append((name, try Tensor(zeros: shape)))
        if buffer { bufferNames.insert(name) }
        if optional { optionalNames.insert(name) }
    }

    func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name }?.value }

    func setTensor(_ name: String, _ value: Tensor) {
        guard let i = tensors.firstIndex(where: { $0.name == name }) else { return }
        tensors[i].value = value
        // A replaced tensor needs a new leaf; one holding the old storage would train a ghost.
        leaves[name] = nil
    }

    /// Every parameter and buffer under this module, keyed like PyTorch's state_dict.
    public func namedTensors(prefix: String = "") -> [(key: String, value: Tensor, isBuffer: Bool, isOptional: Bool)] {
        var out = tensors.map { (prefix + $0.name, $0.value, bufferNames.contains($0.name), optionalNames.contains($0.name)) }
        for (name, child) in children { out += child.namedTensors(prefix: prefix + name + ".") }
        return out
    }

    /// Replaces the tensor at `key` (a state_dict key relative to this module).
    func assign(_ key: Substring, _ value: Tensor) -> Bool {
        if let dot = key.firstIndex(of: ".") {
            let head = key[..<dot]
            guard let child = children.first(where: { $0.name == head })?.module else { return false }
            return child.assign(key[key.index(after: dot)...], value)
        }
        guard tensors.contains(where: { $0.name == key }) else { return false }
        setTensor(String(key), value)
        return true
    }

    /// Modules of a given type anywhere below (and including) this one.
    public func modules<T: Module>(of type: T.Type) -> [T] {
        var out: [T] = []
        if let me = self as? T { out.append(me) }
        for (_, child) in children { out += child.modules(of: type) }
        return out
    }
}

/// `nn.Sequential`: children named "0", "1", …, including layers without tensors, so indices
/// match PyTorch's.
public final class Sequential: Module {
    public init(_ layers: [Module]) {
        super.init()
        children = layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public var layers: [Module] { children.map(\.module) }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var y = x
        var i = 0
        while i < children.count {
            let layer = children[i].module
            // A norm followed by an activation runs as one pass over memory.
            // Results overwrite intermediates nobody else holds: at 1024×768 each is 200 MB.
            let reusable: Tensor? = y.isUniquelyReferenced() ? y : nil
            if let norm = layer as? Norm2d {
                let act = (i + 1 < children.count ? children[i + 1].module as? ActivationLayer : nil)?.activation
                y = try norm.forward(y, context, activation: act, into: reusable)
                i += act == nil ? 1 : 2
                continue
            }
            if let act = layer as? ActivationLayer {
                y = try act.activation(y, into: reusable)
                i += 1
                continue
            }
            y = try layer.forward(y, context)
            i += 1
        }
        return y
    }

    public override func forward(_ x: Variable, _ context: TrainingContext) throws -> Variable {
        try layers.reduce(x) { try $1.forward($0, context) }
    }
}
