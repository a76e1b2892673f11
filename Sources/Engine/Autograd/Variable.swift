/// A tensor in a differentiable computation: the value, and how it was made.
///
/// Define-by-run, as in PyTorch: every differentiable op (see `Ops/`) takes `Variable`s, computes
/// its result with the same kernels inference uses, and — when an input requires a gradient —
/// records a `Node` holding exactly what its backward needs. Calling `backward()` on a scalar
/// walks those nodes in reverse topological order once, accumulates gradients into the leaves
/// that require them, and releases every node's saved tensors so their buffers go back to the
/// pool. A network applied three times in one step (CycleGAN's G_A) simply records three chains
/// of nodes over the same parameter leaves, whose gradients add up.
///
/// Parameters are leaves whose `data` shares storage with the module's tensor; optimizers update
/// them in place with `Tensor.assign(from:)`, which bumps the version the oneDNN weight cache
/// checks.
public final class Variable: @unchecked Sendable {
    /// The value. For a parameter this is the module's own tensor (same storage). A `var` only
    /// so `reusableStorage` can ask whether its storage is shared; nothing reassigns it.
    public fileprivate(set) var data: Tensor
    /// Accumulated gradient of a leaf that requires one (nil until a backward reaches it, and
    /// after `zeroGrad()`). Same shape as `data`.
    public var grad: Tensor?
    /// For leaves: whether backward computes a gradient for it (PyTorch's `requires_grad`,
    /// toggled by `set_requires_grad` to freeze a network). For results: whether any input did.
    public var requiresGrad: Bool
    /// The op that produced this value; nil for leaves and detached values.
    let node: Node?

    /// A leaf: an input (`requiresGrad` false) or a parameter (true).
    public init(_ data: Tensor, requiresGrad: Bool = false) {
        self.data = data
        self.requiresGrad = requiresGrad
        node = nil
    }

    init(_ data: Tensor, node: Node?) {
        self.data = data
        self.requiresGrad = node != nil
        self.node = node
    }

    public var shape: [Int] { data.shape }
    public var isLeaf: Bool { node == nil }

    /// The same value cut from the graph (`tensor.detach()`): nothing flows back through it.
    public func detached() -> Variable { Variable(data) }

    /// Forgets the accumulated gradient (`zero_grad(set_to_none=True)`, PyTorch's default).
    public func zeroGrad() { grad = nil }

    /// Back-propagates from this value: `gradient` is d(objective)/d(self), ones for a scalar
    /// loss. Leaves that require a gradient add the result to `grad`, so several backward calls
    /// before an optimizer step accumulate (CycleGAN's D_A and D_B losses). The graph is freed as
    /// it is consumed unless `retainGraph`.
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        guard requiresGrad else {
            throw EngineError(.unsupported, "backward() on a value that does not require a gradient (no input requires one)")
        }
        let seed: Tensor
        if let gradient {
            guard gradient.shape == shape else {
                throw EngineError(.shapeMismatch, "backward gradient \(gradient.shape) does not match value \(shape)")
            }
            seed = gradient
        } else {
            guard data.count == 1 else {
                throw EngineError(.shapeMismatch, "backward() without a gradient needs a scalar, got \(shape)")
            }
            seed = try Tensor(shape: shape, repeating: 1)
        }
        guard let root = node else {
            grad = try grad.map { try accumulate($0, seed) } ?? seed
            return
        }
        var order: [Node?] = root.topologicalOrder()
        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        for index in order.indices.reversed() {
            // Each gradient is taken out once all consumers have added to it: the topological
            // order guarantees they came earlier in this walk.
            guard let node = order[index] else { continue }
            order[index] = nil
            guard let g = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
            guard let backward = node.backward else {
                throw EngineError(.unsupported, "\(node.op): its graph was already freed by an earlier backward (pass retainGraph: true to reuse it)")
            }
            let inputGrads = try backward(g)
            let edges = node.edges
            if !retainGraph { node.release() }
            for (edge, ig) in zip(edges, inputGrads) {
                guard let edge, let ig else { continue }
                switch edge {
                case .leaf(let v):
                    // A network frozen after recording (set_requires_grad(False)) gathers nothing.
                    if v.requiresGrad { v.grad = try v.grad.map { try accumulate($0, ig) } ?? ig }
                case .node(let producer):
                    let key = ObjectIdentifier(producer)
                    pending[key] = try pending[key].map { try accumulate($0, ig) } ?? ig
                }
            }
        }
    }
}

/// Where an input's gradient goes: the node that produced it, or a leaf's `grad`.
///
/// Edges point at producers, not at the input values themselves, so a recorded graph holds
/// only what the ops saved for their backward: an intermediate activation no backward needs
/// (a normalisation's output, whose ReLU keeps its own output) is freed as soon as the forward
/// moves on, as in PyTorch.
enum Edge {
    case node(Node)
    case leaf(Variable)
}

/// One recorded application of an op: where each input's gradient goes and a closure mapping
/// the output's gradient to each input's (nil where an input needs none). The closure captures
/// only the tensors the backward needs; `release()` drops them.
final class Node {
    let op: String
    /// In the op's argument order; nil for an input that needs no gradient or an absent optional
    /// argument (e.g. a bias). Emptied by `release`.
    private(set) var edges: [Edge?]
    private(set) var backward: ((Tensor) throws -> [Tensor?])?
    /// The same backward built from differentiable ops, recorded only inside
    /// `SecondOrder.recording` (see `gradients(of:wrt:)`).
    private(set) var twin: ((Variable) throws -> [Variable?])?

    init(_ op: String, _ inputs: [Variable?], backward: @escaping (Tensor) throws -> [Tensor?],
         twin: ((Variable) throws -> [Variable?])? = nil) {
        self.op = op
        edges = inputs.map { input in
            guard let input, input.requiresGrad else { return nil }
            if let producer = input.node { return .node(producer) }
            return .leaf(input)
        }
        self.backward = backward
        self.twin = twin
    }

    func release() {
        backward = nil
        twin = nil
        edges = []
    }

    /// Nodes reachable from here, each after the nodes that consume its output.
    func topologicalOrder() -> [Node] {
        var order: [Node] = [], seen: Set<ObjectIdentifier> = []
        // Iterative DFS: generator graphs are hundreds of nodes deep.
        var stack: [(Node, Bool)] = [(self, false)]
        while let (n, expanded) = stack.popLast() {
            if expanded { order.append(n); continue }
            guard seen.insert(ObjectIdentifier(n)).inserted else { continue }
            stack.append((n, true))
            for case .node(let producer)? in n.edges where !seen.contains(ObjectIdentifier(producer)) {
                stack.append((producer, false))
            }
        }
        return order
    }
}

/// The storage of `value` when an op may write its result over it: `value` is not `input` (what
/// the caller was given and may still read), is in no graph, and its tensor is held by nothing
/// else. Inference containers (`Sequential`, residual blocks) pass this as an op's `into:` for
/// values their own children just produced, which no one else has a handle on (a child that
/// returns its input returns `input` itself): at 1024×768 each is 200 MB. A value a recorded op
/// saved for backward shares its tensor, so is never reused.
///
/// The tensor's storage is what is checked, not the `Variable` object: Swift may keep an extra
/// reference to an object the caller reads again later, so asking the object's uniqueness
/// found nothing reusable in some optimised builds.
public func reusableStorage(_ value: Variable, sparing input: Variable) -> Tensor? {
    guard value !== input, !value.requiresGrad, value.data.isUniquelyReferenced() else { return nil }
    return value.data
}

/// Whether an op on `inputs` records a node (some input requires a gradient): such an op keeps
/// its inputs intact for backward, so it ignores an `into:` hint.
@inline(__always)
func records(_ inputs: [Variable?]) -> Bool { inputs.contains { $0?.requiresGrad == true } }

/// The result of an op on `inputs`: a recorded node when any input requires a gradient, a plain
/// value otherwise (then `backward` is never built, and nothing is kept).
@inline(__always)
func record(_ op: String, _ value: Tensor, _ inputs: [Variable?],
            _ backward: () -> (Tensor) throws -> [Tensor?]) -> Variable {
    guard inputs.contains(where: { $0?.requiresGrad == true }) else { return Variable(value) }
    // `backward` returns one gradient per entry of `inputs`, nil included.
    return Variable(value, node: Node(op, inputs, backward: backward()))
}

/// `record` for an op that can also be differentiated twice: inside `SecondOrder.recording`,
/// `twin` builds the differentiable form of its backward (one gradient per input, nil where
/// only a first-order gradient exists, e.g. a convolution's weights).
@inline(__always)
func record(_ op: String, _ value: Tensor, _ inputs: [Variable?],
            _ backward: () -> (Tensor) throws -> [Tensor?],
            twin: () -> (Variable) throws -> [Variable?]) -> Variable {
    guard inputs.contains(where: { $0?.requiresGrad == true }) else { return Variable(value) }
    return Variable(value, node: Node(op, inputs, backward: backward(), twin: SecondOrder.isRecording ? twin() : nil))
}

/// `a + b` into a new tensor (gradients are never written in place: a caller may hold either).
func accumulate(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try add(a, b)
}
