import Engine

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

    /// The layer's one forward, for conversion and training alike (see `ForwardPass`); the
    /// identity for layers without one (`--norm none`'s Identity, for example).
    open func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable { x }

    /// Conversion: `forward(_:_:)` with nothing recorded.
    public final func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try forward(Variable(x), ForwardPass(context)).data
    }

    /// Training: `forward(_:_:)` recording what backward needs.
    public final func forward(_ x: Variable, _ context: TrainingContext) throws -> Variable {
        try forward(x, ForwardPass(context))
    }

    /// Parameter `name` as the pass needs it: the autograd leaf in training, a plain value in
    /// conversion (nil if the module has none of that name).
    func parameter(_ name: String, _ pass: ForwardPass) -> Variable? {
        guard pass.recordsGradients else { return tensor(name).map { Variable($0) } }
        return variable(name)
    }

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
