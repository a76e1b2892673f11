import CKernels
import Engine
import Foundation
import Runs

/// `torch.optim.Adam` (amsgrad off, L2 `weight_decay`), step for step what PyTorch's
/// `_single_tensor_adam` computes, so a run can be checked against PyTorch.
///
/// Per parameter with a gradient (a nil `grad` is skipped, as PyTorch skips `p.grad is None`,
/// and its step count does not advance):
///
///     step += 1
///     grad += weight_decay * param                        (only when weight_decay != 0)
///     exp_avg.lerp_(grad, 1 - beta1)
///     exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * grad * grad
///     step_size = lr / (1 - beta1^step)
///     denom = sqrt(exp_avg_sq) / sqrt(1 - beta2^step) + eps
///     param -= step_size * exp_avg / denom
///
/// Scalars (`lr`, the bias corrections, the step size) are Double, as Python floats are;
/// tensors are Float and each element goes through the same float operations, in the same
/// order, as PyTorch's vectorised CPU kernels (`lerp`'s two formulas, and the fused
/// multiply-adds of `lerp`, `addcmul` and `add(alpha=)`), so without weight decay exp_avg
/// and exp_avg_sq come out bit for bit as PyTorch's. The one known difference is the square root: PyTorch's `sqrt` of a
/// larger tensor goes through MKL's vector math, which is within 1 ulp but not correctly
/// rounded, while this uses the exact IEEE square root; parameters then differ by about 1e-7
/// relative.
///
/// Parameters are updated in place through `withUnsafeMutableBufferPointer`, which bumps the
/// storage version the oneDNN weight cache checks; the tensor itself is never replaced.
public final class Adam: Optimizer {
    /// The parameters, in order, with the names state files key them by (state_dict names).
    public let parameters: [(name: String, variable: Variable)]
    /// Learning rate for the next `step()`; schedulers set it (`adam.lr = scheduler.lr`).
    public var lr: Double
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let weightDecay: Double

    /// Per parameter: nil until its first step with a gradient, as PyTorch's lazily made state.
    var moments: [Moments?]

    final class Moments {
        var step: Int
        var expAvg: [Float]
        var expAvgSq: [Float]

        init(step: Int, expAvg: [Float], expAvgSq: [Float]) {
            self.step = step
            self.expAvg = expAvg
            self.expAvgSq = expAvgSq
        }
    }

    /// - Parameters:
    ///   - parameters: leaves to optimise, named like the state_dict (names must be unique, and
    ///     no variable may appear twice: PyTorch refuses duplicates too).
    ///   - lr, betas, eps, weightDecay: `torch.optim.Adam`'s, with the reference's defaults
    ///     (lr 2e-4, betas (0.5, 0.999)).
    /// - Throws: `TrainingError.invalidSetting` for an out-of-range setting or a duplicate.
    public init(parameters: [(name: String, variable: Variable)], lr: Double = 2e-4,
                betas: (Double, Double) = (0.5, 0.999), eps: Double = 1e-8, weightDecay: Double = 0) throws(TrainingError) {
        // PyTorch's own constructor checks.
        guard lr >= 0, lr.isFinite else { throw TrainingError(.invalidSetting, "Adam: invalid learning rate \(lr)") }
        guard eps >= 0, eps.isFinite else { throw TrainingError(.invalidSetting, "Adam: invalid epsilon \(eps)") }
        guard betas.0 >= 0, betas.0 < 1 else { throw TrainingError(.invalidSetting, "Adam: invalid beta1 \(betas.0) (must be in [0, 1))") }
        guard betas.1 >= 0, betas.1 < 1 else { throw TrainingError(.invalidSetting, "Adam: invalid beta2 \(betas.1) (must be in [0, 1))") }
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw TrainingError(.invalidSetting, "Adam: invalid weight decay \(weightDecay)")
        }
        var names = Set<String>(), variables = Set<ObjectIdentifier>()
        for (name, variable) in parameters {
            guard names.insert(name).inserted else { throw TrainingError(.invalidSetting, "Adam: parameter name '\(name)' appears twice") }
            guard variables.insert(ObjectIdentifier(variable)).inserted else {
                throw TrainingError(.invalidSetting, "Adam: parameter '\(name)' is a variable already given under another name")
            }
        }
        self.parameters = parameters
        self.lr = lr
        (beta1, beta2) = betas
        self.eps = eps
        self.weightDecay = weightDecay
        moments = Array(repeating: nil, count: parameters.count)
    }

    /// Unnamed parameters, named "0", "1", … by position (PyTorch's optimizer state_dict keys).
    public convenience init(_ variables: [Variable], lr: Double = 2e-4, betas: (Double, Double) = (0.5, 0.999),
                            eps: Double = 1e-8, weightDecay: Double = 0) throws(TrainingError) {
        try self.init(parameters: variables.enumerated().map { (String($0.offset), $0.element) },
                      lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
    }

    /// Sets every gradient to nil (`zero_grad(set_to_none=True)`, PyTorch's default).
    public func zeroGrad() {
        for (_, v) in parameters { v.grad = nil }
    }

    /// The state PyTorch would hold for the parameter `name`: nil before its first step.
    public func state(of name: String) -> (step: Int, expAvg: [Float], expAvgSq: [Float])? {
        guard let i = parameters.firstIndex(where: { $0.name == name }), let m = moments[i] else { return nil }
        return (m.step, m.expAvg, m.expAvgSq)
    }

    /// One update of every parameter that has a gradient.
    ///
    /// - Throws: `TrainingError.shapeMismatch` when a gradient's shape differs from its
    ///   parameter's; every gradient is checked before any parameter changes.
    public var beforeStep: GradientHook?

    /// Whether the CPU runs the FMA/AVX2 kernel (CPUID, once).
    static let kernelAvailable = gantry_has_fma_avx2() != 0
    /// The update runs in the FMA/AVX2 kernel where the CPU has it, else in the Swift loop; the
    /// two are bit for bit the same (`AdamKernelTests` sets this to compare them).
    var useKernel = Adam.kernelAvailable

    public func step() throws(TrainingError) {
        try beforeStep?(parameters)
        try checkGradientShapes("Adam")
        for (i, (_, v)) in parameters.enumerated() {
            guard let grad = v.grad else { continue }
            let m: Moments
            if let existing = moments[i] {
                m = existing
            } else {
                m = Moments(step: 0, expAvg: Array(repeating: 0, count: v.data.count),
                            expAvgSq: Array(repeating: 0, count: v.data.count))
                moments[i] = m
            }
            m.step += 1
            update(param: v.data, grad: grad, moments: m)
        }
    }

    private func update(param: Tensor, grad: Tensor, moments m: Moments) {
        // Python floats, as `_single_tensor_adam` computes them (`**` is pow, also for 0.5).
        let step = Double(m.step)
        let biasCorrection1 = 1 - pow(beta1, step)
        let biasCorrection2 = 1 - pow(beta2, step)
        let stepSize = lr / biasCorrection1
        let biasCorrection2Sqrt = pow(biasCorrection2, 0.5)
        // Scalars enter the float kernels converted to float.
        let weight = Float(1 - beta1), b2 = Float(beta2), oneMinusB2 = Float(1 - beta2)
        let c2 = Float(biasCorrection2Sqrt), epsilon = Float(eps), negStepSize = Float(-stepSize)
        let decay = Float(weightDecay)
        // lerp picks its formula by the weight's size (ATen's is_lerp_weight_small); both are the
        // vectorised kernel's fused multiply-adds.
        let smallWeight = abs(weight) < 0.5
        let coefficient = smallWeight ? weight : weight - 1
        grad.withUnsafeBufferPointer { g in
            m.expAvg.withUnsafeMutableBufferPointer { expAvg in
                m.expAvgSq.withUnsafeMutableBufferPointer { expAvgSq in
                    param.withUnsafeMutableBufferPointer { p in
                        // Elements are independent: chunks run on both cores (unet_256 has 54M).
                        if useKernel {
                            // The same operations compiled for FMA/AVX2: Swift's baseline x86-64
                            // build turns each addingProduct into a call to libm's fmaf.
                            let scalars = gantry_adam_scalars(
                                lerp_coefficient: coefficient, small_weight: smallWeight ? 1 : 0,
                                beta2: b2, one_minus_beta2: oneMinusB2, bias_correction2_sqrt: c2, eps: epsilon,
                                neg_step_size: negStepSize, weight_decay: decay)
                            withUnsafePointer(to: scalars) { sp in
                                forEachChunk(p.count) { range in
                                    gantry_adam_fma(g.baseAddress! + range.lowerBound, expAvg.baseAddress! + range.lowerBound,
                                                    expAvgSq.baseAddress! + range.lowerBound, p.baseAddress! + range.lowerBound,
                                                    range.count, sp)
                                }
                            }
                            return
                        }
                        forEachChunk(p.count) { range in for j in range {
                            var gj = g[j]
                            if decay != 0 { gj = gj.addingProduct(p[j], decay) }   // grad.add(param, alpha=wd)
                            let a = expAvg[j]
                            let ea = (smallWeight ? a : gj).addingProduct(coefficient, gj - a)
                            expAvg[j] = ea
                            let scaled = expAvgSq[j] * b2                           // mul_(beta2)
                            let v = scaled.addingProduct(oneMinusB2 * gj, gj)        // addcmul_(g, g, 1 - beta2)
                            expAvgSq[j] = v
                            let denom = v.squareRoot() / c2 + epsilon
                            p[j] = p[j] + negStepSize * ea / denom                  // addcdiv_(m, denom, -step_size)
                        } }
                    }
                }
            }
        }
    }
}

extension Adam {
    public var algorithm: String { "adam" }
    public var settings: [(name: String, value: Double)] {
        [("beta1", beta1), ("beta2", beta2), ("eps", eps), ("weight_decay", weightDecay)]
    }
    public var bufferNames: [String] { ["exp_avg", "exp_avg_sq"] }
    public func state(at index: Int) -> (step: Int, buffers: [[Float]])? {
        moments[index].map { ($0.step, [$0.expAvg, $0.expAvgSq]) }
    }
    public func restore(_ states: [(step: Int, buffers: [[Float]])?]) {
        moments = states.map { $0.map { Moments(step: $0.step, expAvg: $0.buffers[0], expAvgSq: $0.buffers[1]) } }
    }
}
