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

/// `cross_entropy(logits, targets)` for N×K logits and one class index per row: the mean over
/// rows of −log softmax(row)[target] (StarGAN's one-of-K domain classification).
public func crossEntropy(_ logits: Variable, targets: [Int]) throws -> Variable {
    guard logits.shape.count == 2, logits.shape[0] == targets.count, logits.shape[0] > 0, logits.shape[1] > 0 else {
        throw EngineError(.shapeMismatch, "cross entropy: logits \(logits.shape) do not fit \(targets.count) targets")
    }
    let (rows, classes) = (logits.shape[0], logits.shape[1])
    if let bad = targets.first(where: { !(0..<classes).contains($0) }) {
        throw EngineError(.shapeMismatch, "cross entropy: target class \(bad) is outside 0..<\(classes)")
    }
    let grad = try Tensor(uninitialized: logits.shape)
    let xp = logits.data.pointer, gp = grad.mutablePointer
    var total = 0.0
    for r in 0..<rows {
        let row = (0..<classes).map { Double(xp[r * classes + $0]) }
        let top = row.max()!
        let sum = row.reduce(0) { $0 + exp($1 - top) }
        total += top + log(sum) - row[targets[r]]
        for k in 0..<classes {
            let softmax = exp(row[k] - top) / sum
            gp[r * classes + k] = Float((softmax - (k == targets[r] ? 1 : 0)) / Double(rows))
        }
    }
    let y = try Tensor(shape: [], values: [Float(total / Double(rows))])
    return record("cross_entropy", y, [logits]) {
        { outer in [try scaled(grad, by: outer.pointer[0])] }
    }
}

/// WGAN-GP's penalty on per-sample gradients `g` (first dimension: the batch): the mean over
/// samples of (‖gᵢ + ε‖₂ − center)², each gᵢ flattened. ε is added elementwise before the norm,
/// as the reference's `cal_gradient_penalty` does (1e-16); StarGAN's `gradient_penalty` has none.
public func gradientPenalty(_ g: Variable, center: Float = 1, epsilon: Float = 1e-16) throws -> Variable {
    guard g.shape.count >= 1, g.shape[0] > 0, g.data.count > 0 else {
        throw EngineError(.shapeMismatch, "gradient penalty of an empty gradient \(g.shape)")
    }
    let samples = g.shape[0], per = g.data.count / samples
    let grad = try Tensor(uninitialized: g.shape)
    let gp = g.data.pointer, dp = grad.mutablePointer
    var total = 0.0
    for i in 0..<samples {
        var squares = 0.0
        for k in (i * per)..<((i + 1) * per) {
            let v = Double(gp[k] + epsilon)
            squares += v * v
        }
        let norm = squares.squareRoot()
        total += (norm - Double(center)) * (norm - Double(center))
        // d/dg (‖g + ε‖ − c)² = 2(‖g + ε‖ − c)(g + ε)/‖g + ε‖, over the batch mean.
        let factor = norm > 0 ? 2 * (norm - Double(center)) / norm / Double(samples) : 0
        for k in (i * per)..<((i + 1) * per) { dp[k] = Float(factor * Double(gp[k] + epsilon)) }
    }
    let y = try Tensor(shape: [], values: [Float(total / Double(samples))])
    return record("gradient_penalty", y, [g]) {
        { outer in [try scaled(grad, by: outer.pointer[0])] }
    }
}

/// Mean of `f(x)` over all elements, for losses written as one function per element (the f-GAN
/// divergences' terms): `f` returns the term and its derivative.
public func pointwiseMean(_ x: Variable, name: String, _ f: (Float) -> (Double, Float)) throws -> Variable {
    try pointwiseLoss(name, x, .constant(0)) { x, _ in f(x) }
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
