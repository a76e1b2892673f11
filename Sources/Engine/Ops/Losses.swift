import Foundation

/// Loss functions, each a scalar mean over all elements (PyTorch's reduction='mean'), computing
/// its value and its gradient in one pass over the prediction.

/// What a prediction is compared with: a constant label (GAN targets 1 and 0, expanded as the
/// reference's `GANLoss` does) or a tensor of the same shape (L1 against the real image).
public enum LossTarget {
    case constant(Float)
    case tensor(Tensor)
}

/// `BCEWithLogitsLoss`: mean of max(x, 0) − x·t + log(1 + e^−|x|), the numerically stable form.
public func bceWithLogits(_ x: Variable, _ target: LossTarget) throws -> Variable {
    try pointwiseLoss("bce_with_logits", x, target) { x, t in
        let value = Double(max(x, 0) - x * t) + log1p(exp(-Double(abs(x))))
        let sigmoid = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
        return (value, sigmoid - t)
    }
}

/// `MSELoss`: mean of (x − t)².
public func mse(_ x: Variable, _ target: LossTarget) throws -> Variable {
    try pointwiseLoss("mse", x, target) { x, t in
        let d = x - t
        return (Double(d) * Double(d), 2 * d)
    }
}

/// `L1Loss`: mean of |x − t|; the gradient at x = t is 0, as in PyTorch.
public func l1(_ x: Variable, _ target: LossTarget) throws -> Variable {
    try pointwiseLoss("l1", x, target) { x, t in
        let d = x - t
        return (Double(abs(d)), d > 0 ? 1 : (d < 0 ? -1 : 0))
    }
}

/// Mean of all elements (WGAN's critic terms).
public func mean(_ x: Variable) throws -> Variable {
    try pointwiseLoss("mean", x, .constant(0)) { x, _ in (Double(x), 1) }
}

/// Mean of max(0, 1 + sign·x): the hinge loss's discriminator terms (sign −1 for real, +1 for fake).
public func meanHinge(_ x: Variable, sign: Float) throws -> Variable {
    try pointwiseLoss("hinge", x, .constant(0)) { x, _ in
        let v = 1 + sign * x
        return (Double(max(v, 0)), v > 0 ? sign : 0)
    }
}

/// A mean of `f(x, t)` over elements; `f` returns the term and its derivative in x.
private func pointwiseLoss(_ op: String, _ x: Variable, _ target: LossTarget,
                           _ f: (Float, Float) -> (Double, Float)) throws -> Variable {
    let count = x.data.count
    guard count > 0 else { throw EngineError(.shapeMismatch, "\(op) of an empty tensor") }
    if case .tensor(let t) = target, t.shape != x.shape {
        throw EngineError(.shapeMismatch, "\(op): target \(t.shape) does not match prediction \(x.shape)")
    }
    let grad = try Tensor(uninitialized: x.shape)
    let xp = x.data.pointer, gp = grad.mutablePointer
    let tp: UnsafePointer<Float>?, constant: Float
    switch target {
    case .constant(let c): (tp, constant) = (nil, c)
    case .tensor(let t): (tp, constant) = (t.pointer, 0)
    }
    let inverse = 1 / Float(count)
    var total = 0.0
    for i in 0..<count {
        let (v, d) = f(xp[i], tp?[i] ?? constant)
        total += v
        gp[i] = d * inverse
    }
    let y = try Tensor(shape: [], values: [Float(total / Double(count))])
    return record(op, y, [x]) {
        { g in [try scaled(grad, by: g.pointer[0])] }
    }
}
