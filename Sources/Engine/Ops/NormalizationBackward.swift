/// Gradient of `normalize`.
///
/// With x̂ = (x − μ)·σ⁻¹ over a group of M values and y = γ·x̂ + β:
/// dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂)) when μ and σ come from the group itself (instance
/// norm, batch norm in training), dx = γ·σ⁻¹·dy with running statistics; dγ = Σ dy·x̂ and
/// dβ = Σ dy over N×H×W. Sums are per plane in float SIMD chunks, accumulated in Double.
public func normalizeBackward(_ gradOutput: Tensor, input x: Tensor, statistics: NormStatistics, mean: [Float], invStd: [Float],
                              weight: Tensor?) throws -> (input: Tensor, weight: Tensor, bias: Tensor) {
    let (n, c, h, w) = x.nchw
    let plane = h * w
    let xp = x.pointer, gp = gradOutput.pointer
    let perInstance = statistics.isPerInstance
    let groupOf = { (p: Int) in perInstance ? p : p % c }
    // Per plane: Σ dy and Σ dy·x̂.
    var s1 = [Double](repeating: 0, count: n * c), s2 = s1
    s1.withUnsafeMutableBufferPointer { s1p in
        s2.withUnsafeMutableBufferPointer { s2p in
            parallelFor(n * c, elementsPerItem: plane) { p in
                let g = groupOf(p)
                let (a, b) = planeSums(gp + p * plane, xp + p * plane, plane, center: mean[g])
                s1p[p] = a
                s2p[p] = b * Double(invStd[g])
            }
        }
    }
    var dWeight = [Double](repeating: 0, count: c), dBias = dWeight
    for p in 0..<(n * c) { dWeight[p % c] += s2[p]; dBias[p % c] += s1[p] }
    var g1 = s1, g2 = s2, count = Double(plane)
    if case .perBatch = statistics { (g1, g2, count) = (dBias, dWeight, Double(n * plane)) }
    if case .synchronized(let r) = statistics {
        // The global batch's Σdy and Σdy·x̂, each process's weighted by its share of the loss,
        // then divided by ours: the parameters' gradients are later weighted by it again.
        let sums = try r.sum((dBias + dWeight).map { $0 * r.weight })
        g1 = sums[..<c].map { $0 / r.weight }
        g2 = sums[c...].map { $0 / r.weight }
        count = Double(r.total * plane)
    }
    let dependsOnBatch: Bool
    if case .running = statistics { dependsOnBatch = false } else { dependsOnBatch = true }

    let gx = try Tensor(uninitialized: x.shape)
    let dp = gx.mutablePointer, wp = weight?.pointer
    parallelFor(n * c, elementsPerItem: plane) { p in
        let ch = p % c, g = groupOf(p)
        let groupInvStd = invStd[g], groupMean = mean[g]
        let k = (wp?[ch] ?? 1) * groupInvStd
        let src = gp + p * plane, xs = xp + p * plane, dst = dp + p * plane
        guard dependsOnBatch else {
            for i in 0..<plane { dst[i] = k * src[i] }
            return
        }
        let m1 = Float(g1[g] / count), m2 = Float(g2[g] / count)
        for i in 0..<plane { dst[i] = k * (src[i] - m1 - (xs[i] - groupMean) * groupInvStd * m2) }
    }
    return (gx, try Tensor(shape: [c], values: dWeight.map { Float($0) }), try Tensor(shape: [c], values: dBias.map { Float($0) }))
}

/// Σ g and Σ g·(x − center) over `n` values.
@inline(__always)
private func planeSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, center: Float) -> (Double, Double) {
    var t1 = 0.0, t2 = 0.0
    let c = SIMD16<Float>(repeating: center)
    var i = 0
    while i < n {
        let end = min(n, i + 1024)
        var a1 = SIMD16<Float>(), a2 = SIMD16<Float>()
        var j = i
        while j + 16 <= end {
            let gv = UnsafeRawPointer(g + j).loadUnaligned(as: SIMD16<Float>.self)
            let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
            a1 += gv
            a2 += gv * (xv - c)
            j += 16
        }
        var r1: Float = 0, r2: Float = 0
        while j < end { r1 += g[j]; r2 += g[j] * (x[j] - center); j += 1 }
        t1 += Double(a1.sum() + r1)
        t2 += Double(a2.sum() + r2)
        i = end
    }
    return (t1, t2)
}

/// Differentiable normalisation (instance norm, batch norm in training or eval mode), followed by
/// `activation` if given. Returns the statistics used, for the caller's running-statistics update.
///
/// When nothing is recorded, normalisation and activation run as one pass over memory, into
/// `output` if given (see `reusableStorage`); when a gradient is wanted they are two recorded ops,
/// since each backward needs its own saved tensor.
public func normalize(_ x: Variable, statistics: NormStatistics, weight: Variable?, bias: Variable?,
                      epsilon: Float = 1e-5, activation: Activation? = nil,
                      into output: Tensor? = nil) throws -> (output: Variable, statistics: NormOutput) {
    guard records([x, weight, bias]) else {
        let fused = try normalize(x.data, statistics: statistics, weight: weight?.data, bias: bias?.data, epsilon: epsilon,
                                  activation: activation, into: output)
        return (Variable(fused.output), fused)
    }
    let forward = try normalize(x.data, statistics: statistics, weight: weight?.data, bias: bias?.data, epsilon: epsilon)
    let normalized = record("normalize", forward.output, [x, weight, bias]) {
        // The statistics and the input, not the output: the next layer owns that.
        let input = x.data, w = weight?.data, mean = forward.mean, invStd = forward.invStd
        return { g in
            let (gx, gw, gb) = try normalizeBackward(g, input: input, statistics: statistics, mean: mean, invStd: invStd, weight: w)
            return [gx, gw, gb]
        }
    } twin: {
        // The input gradient depends on x itself (through the statistics), so the twin keeps
        // x as an input: a penalty on it reaches the layers before as well as γ.
        { g in
            [try normalizeInputGradient(g, input: x, statistics: statistics, mean: forward.mean, invStd: forward.invStd,
                                        weight: weight), nil, nil]
        }
    }
    return (try activation.map { try $0(normalized) } ?? normalized, forward)
}
