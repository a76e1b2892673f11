/// Gradients that are themselves differentiable: what WGAN-GP's penalty
/// `λ·(‖∇ₓ̂ D(x̂)‖₂ − 1)²` needs to reach the critic's weights.
///
/// Ops record the differentiable twin of their backward only inside `SecondOrder.recording`
/// (the twin keeps what it needs alive, which ordinary training must not pay for). Twins exist
/// for what the critics are made of: convolutions (the input gradient, as a differentiable
/// function of the output gradient and the weights), batch and instance normalisation (a
/// function of the output gradient, the input and γ: `normalizeInputGradient`), ReLU /
/// LeakyReLU (piecewise linear: the mask is a constant), adds and scales. Other ops refuse by
/// name.
public enum SecondOrder {
    @TaskLocal static var active = false

    static var isRecording: Bool { active }

    /// Runs `body` with ops recording differentiable backwards, as PyTorch records a forward
    /// whose `autograd.grad(..., create_graph=True)` will be taken.
    public static func recording<T>(_ body: () throws -> T) throws -> T {
        try $active.withValue(true) { try body() }
    }
}

/// d`output`/d`inputs` (with `seed` as d(objective)/d`output`, ones by default: PyTorch's
/// `grad_outputs=torch.ones_like(output)`), as values with a recorded graph: a loss built on
/// them back-propagates through the gradient computation itself (`create_graph=True`).
///
/// `output` must have been computed inside `SecondOrder.recording`. The walk leaves the forward
/// graph in place and accumulates nothing into `grad`; only `inputs`' gradients are returned,
/// and asking for a weight's (which the twins do not carry) is refused.
public func gradients(of output: Variable, wrt inputs: [Variable], seed: Tensor? = nil) throws -> [Variable] {
    guard let root = output.node else {
        throw EngineError(.unsupported, "gradients(of:wrt:): the output was not computed from any input that requires a gradient")
    }
    let start = try seed ?? Tensor(shape: output.shape, repeating: 1)
    guard start.shape == output.shape else {
        throw EngineError(.shapeMismatch, "gradients(of:wrt:): seed \(start.shape) does not match output \(output.shape)")
    }
    let wanted = Set(inputs.map(ObjectIdentifier.init))
    var results: [ObjectIdentifier: Variable] = [:]
    var pending: [ObjectIdentifier: Variable] = [ObjectIdentifier(root): Variable(start)]
    for node in root.topologicalOrder().reversed() {
        guard let g = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
        guard let twin = node.twin else {
            throw EngineError(.unsupported, "a gradient of a gradient through \(node.op) is not implemented (the gradient penalty supports critics of convolutions, batch / instance normalisation, ReLU / LeakyReLU, adds and scales), or the forward ran outside SecondOrder.recording")
        }
        for (edge, ig) in zip(node.edges, try twin(g)) {
            switch edge {
            case nil: continue
            case .leaf(let v)?:
                let key = ObjectIdentifier(v)
                guard wanted.contains(key) else { continue }
                guard let ig else {
                    throw EngineError(.unsupported, "gradients(of:wrt:) cannot differentiate \(node.op)'s weight gradient; ask for inputs only")
                }
                results[key] = try results[key].map { try add($0, ig) } ?? ig
            case .node(let producer)?:
                guard let ig else { continue }
                let key = ObjectIdentifier(producer)
                pending[key] = try pending[key].map { try add($0, ig) } ?? ig
            }
        }
    }
    return try inputs.map { input in
        guard let g = results[ObjectIdentifier(input)] else {
            throw EngineError(.unsupported, "gradients(of:wrt:): the output does not depend on one of the inputs (or it does not require a gradient)")
        }
        return g
    }
}
