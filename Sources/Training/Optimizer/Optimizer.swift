import CKernels
import Engine
import Runs

/// What a trainer needs of an optimizer, and what a state file saves of it (`TrainingStateFile`):
/// PyTorch's `torch.optim` algorithms, step for step.
public protocol Optimizer: AnyObject {
    /// The parameters, in order, with the names state files key them by (state_dict names).
    var parameters: [(name: String, variable: Variable)] { get }
    /// Learning rate for the next `step()`; schedulers set it.
    var lr: Double { get set }
    /// Sets every gradient to nil (`zero_grad(set_to_none=True)`).
    func zeroGrad()
    /// One update of every parameter that has a gradient.
    func step() throws(TrainingError)
    /// Runs first thing in `step()`, with `parameters`: data-parallel training averages the
    /// ranks' gradients there (`DataParallel`). Nil: nothing.
    var beforeStep: GradientHook? { get set }

    /// PyTorch's class name in lower case ("adam", "rmsprop"), as state files record it.
    var algorithm: String { get }
    /// Hyper-parameters that a restored state must have been saved with, by PyTorch's names.
    var settings: [(name: String, value: Double)] { get }
    /// Per-parameter buffers by PyTorch's state names, e.g. `exp_avg`, `exp_avg_sq`. The last one
    /// is a running mean of squares: never negative.
    var bufferNames: [String] { get }
    /// The state of parameter `index`: nil before its first step.
    func state(at index: Int) -> (step: Int, buffers: [[Float]])?
    /// Replaces every parameter's state (same order and sizes as `parameters`; checked by the caller).
    func restore(_ states: [(step: Int, buffers: [[Float]])?])
}

/// What an optimizer calls on its gradients before updating (`Optimizer.beforeStep`).
public typealias GradientHook = (_ parameters: [(name: String, variable: Variable)]) throws(TrainingError) -> Void

extension Optimizer {
    func checkGradientShapes(_ name: String) throws(TrainingError) {
        for (pname, v) in parameters {
            if let g = v.grad, g.shape != v.data.shape {
                throw TrainingError(.shapeMismatch, "\(name): gradient of '\(pname)' has shape \(g.shape), the parameter \(v.data.shape)")
            }
        }
    }
}

/// `torch.optim.RMSprop` (not centered, no momentum), as the WGAN paper trains its critic and
/// generator:
///
///     step += 1
///     grad += weight_decay * param                   (only when weight_decay != 0)
///     square_avg = alpha * square_avg + (1 - alpha) * grad * grad
///     param -= lr * grad / (sqrt(square_avg) + eps)
///
/// Parameters are updated in place (bumping the version the weight caches check).
public final class RMSprop: Optimizer {
    public let parameters: [(name: String, variable: Variable)]
    public var lr: Double
    public let alpha: Double
    public let eps: Double
    public let weightDecay: Double
    var states: [(step: Int, squareAvg: [Float])?]

    public init(parameters: [(name: String, variable: Variable)], lr: Double = 1e-2, alpha: Double = 0.99,
                eps: Double = 1e-8, weightDecay: Double = 0) throws(TrainingError) {
        guard lr >= 0, lr.isFinite else { throw TrainingError(.invalidSetting, "RMSprop: invalid learning rate \(lr)") }
        guard alpha >= 0, alpha.isFinite else { throw TrainingError(.invalidSetting, "RMSprop: invalid alpha \(alpha)") }
        guard eps >= 0, eps.isFinite else { throw TrainingError(.invalidSetting, "RMSprop: invalid epsilon \(eps)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw TrainingError(.invalidSetting, "RMSprop: invalid weight decay \(weightDecay)") }
        var names = Set<String>(), variables = Set<ObjectIdentifier>()
        for (name, variable) in parameters {
            guard names.insert(name).inserted, variables.insert(ObjectIdentifier(variable)).inserted else {
                throw TrainingError(.invalidSetting, "RMSprop: parameter '\(name)' appears twice")
            }
        }
        self.parameters = parameters
        self.lr = lr
        self.alpha = alpha
        self.eps = eps
        self.weightDecay = weightDecay
        states = Array(repeating: nil, count: parameters.count)
    }

    public func zeroGrad() {
        for (_, v) in parameters { v.grad = nil }
    }

    public var beforeStep: GradientHook?
    /// The FMA/AVX2 kernel where the CPU has it, else the Swift loop; bit for bit the same
    /// (`AdamKernelTests` sets this to compare them).
    var useKernel = Adam.kernelAvailable

    public func step() throws(TrainingError) {
        try beforeStep?(parameters)
        try checkGradientShapes("RMSprop")
        let a = Float(alpha), oneMinusA = Float(1 - alpha), epsilon = Float(eps), negLR = Float(-lr), decay = Float(weightDecay)
        for (i, (_, v)) in parameters.enumerated() {
            guard let grad = v.grad else { continue }
            var state = states[i] ?? (0, Array(repeating: 0, count: v.data.count))
            state.step += 1
            grad.withUnsafeBufferPointer { g in
                state.squareAvg.withUnsafeMutableBufferPointer { sq in
                    v.data.withUnsafeMutableBufferPointer { p in
                        if useKernel {
                            // The same operations compiled for FMA/AVX2 (see Adam).
                            forEachChunk(p.count) { r in
                                gantry_rmsprop_fma(g.baseAddress! + r.lowerBound, sq.baseAddress! + r.lowerBound, p.baseAddress! + r.lowerBound,
                                                   r.count, a, oneMinusA, epsilon, negLR, decay)
                            }
                            return
                        }
                        forEachChunk(p.count) { range in for j in range {
                            var gj = g[j]
                            if decay != 0 { gj = gj.addingProduct(p[j], decay) }
                            let s = (sq[j] * a).addingProduct(oneMinusA * gj, gj)   // mul_(alpha).addcmul_(g, g, 1 - alpha)
                            sq[j] = s
                            p[j] = p[j] + negLR * gj / (s.squareRoot() + epsilon)   // addcdiv_(g, sqrt + eps, -lr)
                        } }
                    }
                }
            }
            states[i] = state
        }
    }

    public var algorithm: String { "rmsprop" }
    public var settings: [(name: String, value: Double)] { [("alpha", alpha), ("eps", eps), ("weight_decay", weightDecay)] }
    public var bufferNames: [String] { ["square_avg"] }
    public func state(at index: Int) -> (step: Int, buffers: [[Float]])? { states[index].map { ($0.step, [$0.squareAvg]) } }
    public func restore(_ states: [(step: Int, buffers: [[Float]])?]) { self.states = states.map { $0.map { ($0.step, $0.buffers[0]) } } }
}
