/// Where a normalisation layer takes its mean and variance from.
public enum NormStatistics: Sendable {
    /// Per image and channel over H×W: InstanceNorm2d (and BatchNorm2d on a batch of one).
    case perInstance
    /// Per channel over N×H×W: BatchNorm2d in training mode (what the reference test script uses).
    case perBatch
    /// Stored running statistics: BatchNorm2d (or tracked InstanceNorm2d) in eval mode.
    case running(mean: Tensor, variance: Tensor)
    /// Per channel over the global batch of a data-parallel job, of which this process holds a
    /// part (SyncBatchNorm): BatchNorm2d in training mode across ranks.
    case synchronized(BatchReduction)
}

/// How a process's part of a batch reaches the rest for synchronised batch statistics.
public struct BatchReduction: Sendable {
    /// Element-wise sum over the processes, in a fixed order (every process calls it alike).
    public let sum: @Sendable ([Double]) throws -> [Double]
    /// Items in the global batch.
    public let total: Int
    /// This process's share of the loss (its items / the global batch's): backward scales its
    /// sums by it, so the gradient is that of the global batch's mean loss.
    public let weight: Double

    public init(sum: @escaping @Sendable ([Double]) throws -> [Double], total: Int, weight: Double) {
        (self.sum, self.total, self.weight) = (sum, total, weight)
    }
}

/// The result of a normalisation, with the statistics it used (kept for backward and for
/// running-statistics updates during training).
public struct NormOutput {
    public let output: Tensor
    /// Mean and 1/sqrt(var + eps) per statistics group (N·C groups per instance, C otherwise).
    public let mean: [Float]
    public let invStd: [Float]
    /// Biased variance per group, as PyTorch normalises with.
    public let variance: [Float]
}

/// `y = act((x - mean) / sqrt(var + eps) * weight + bias)` over an NCHW tensor.
///
/// Statistics are accumulated in Double: float sums over a 1024×768 plane lose ~1e-4.
///
/// `output` may be `x` itself (statistics are taken before anything is written) to save memory.
public func normalize(_ x: Tensor, statistics: NormStatistics, weight: Tensor?, bias: Tensor?,
                      epsilon: Float = 1e-5, activation: Activation? = nil, into output: Tensor? = nil) throws -> NormOutput {
    let (n, c, h, w) = x.nchw
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let t, t.shape != [c] {
            throw EngineError(.shapeMismatch, "norm \(name) \(t.shape) does not match \(c) channels")
        }
    }
    let plane = h * w
    let xp = x.pointer
    var mean: [Float], variance: [Float]
    switch statistics {
    case .perInstance:
        (mean, variance) = groupStatistics(xp, groups: n * c, plane: plane) { g in [g] }
    case .perBatch:
        guard n * plane > 1 else {
            throw EngineError(.shapeMismatch, "batch normalisation needs more than one value per channel (input \(x.shape))")
        }
        (mean, variance) = groupStatistics(xp, groups: c, plane: plane) { g in (0..<n).map { $0 * c + g } }
    case .synchronized(let reduction):
        let count = Double(reduction.total * plane)
        guard count > 1 else {
            throw EngineError(.shapeMismatch, "batch normalisation needs more than one value per channel (global batch \(reduction.total), input \(x.shape))")
        }
        // Σx over every process's items, then Σ(x − μ)² around the global mean: the two passes
        // of the local case, each finished by a sum across processes.
        let planes = { (g: Int) in (0..<n).map { $0 * c + g } }
        let sums = try reduction.sum((0..<c).map { g in planes(g).reduce(0.0) { $0 + chunkedSum(xp + $1 * plane, plane, squaredAround: nil) } })
        let m = sums.map { $0 / count }
        let squares = try reduction.sum((0..<c).map { g in
            planes(g).reduce(0.0) { $0 + chunkedSum(xp + $1 * plane, plane, squaredAround: Float(m[g])) }
        })
        (mean, variance) = (m.map { Float($0) }, squares.map { Float($0 / count) })
    case .running(let m, let v):
        guard m.shape == [c], v.shape == [c] else {
            throw EngineError(.shapeMismatch, "running statistics \(m.shape)/\(v.shape) do not match \(c) channels")
        }
        mean = m.values
        variance = v.values
    }
    let invStd = variance.map { 1 / (Float($0) + epsilon).squareRoot() }
    let y = try output ?? Tensor(uninitialized: x.shape)
    precondition(y.shape == x.shape, "normalize output shape \(y.shape) differs from input \(x.shape)")
    let yp = y.mutablePointer
    let wp = weight?.pointer, bp = bias?.pointer
    let perInstance = mean.count == n * c && statistics.isPerInstance
    parallelFor(n * c, elementsPerItem: plane) { p in
        let ch = p % c
        let g = perInstance ? p : ch
        // Fold normalisation and affine into one multiply-add per element.
        let scale = invStd[g] * (wp?[ch] ?? 1)
        let shift = (bp?[ch] ?? 0) - mean[g] * scale
        let src = xp + p * plane, dst = yp + p * plane
        switch activation {
        case nil: for i in 0..<plane { dst[i] = src[i] * scale + shift }
        case .relu?: for i in 0..<plane { dst[i] = max(src[i] * scale + shift, 0) }
        case let act?: for i in 0..<plane { dst[i] = act.apply(src[i] * scale + shift) }
        }
    }
    return NormOutput(output: y, mean: mean, invStd: invStd, variance: variance)
}

extension NormStatistics {
    var isPerInstance: Bool { if case .perInstance = self { return true } else { return false } }
}

/// Mean and biased variance of each group of planes (two passes).
private func groupStatistics(_ xp: UnsafePointer<Float>, groups: Int, plane: Int,
                             planes: (Int) -> [Int]) -> (mean: [Float], variance: [Float]) {
    var mean = [Float](repeating: 0, count: groups), variance = [Float](repeating: 0, count: groups)
    let groupPlanes = (0..<groups).map(planes)
    let perGroup = plane * (groupPlanes.first?.count ?? 1)
    mean.withUnsafeMutableBufferPointer { mp in
        variance.withUnsafeMutableBufferPointer { vp in
            parallelFor(groups, elementsPerItem: perGroup) { g in
                var sum = 0.0
                for p in groupPlanes[g] { sum += chunkedSum(xp + p * plane, plane, squaredAround: nil) }
                let m = sum / Double(perGroup)
                var sq = 0.0
                for p in groupPlanes[g] { sq += chunkedSum(xp + p * plane, plane, squaredAround: Float(m)) }
                mp[g] = Float(m)
                vp[g] = Float(sq / Double(perGroup))
            }
        }
    }
    return (mean, variance)
}

/// Σx, or Σ(x − center)² when `squaredAround` gives the center; vectorised in float over
/// chunks of 1024 and accumulated across chunks in Double: float alone loses ~1e-4 relative over
/// a megapixel plane, Double alone does not vectorise.
@inline(__always)
private func chunkedSum(_ p: UnsafePointer<Float>, _ n: Int, squaredAround center: Float?) -> Double {
    let squared = center != nil
    let m = center ?? 0
    let c = SIMD16<Float>(repeating: m)
    var total = 0.0
    var i = 0
    while i < n {
        let end = min(n, i + 1024)
        var acc = SIMD16<Float>()
        var j = i
        while j + 16 <= end {
            let v = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD16<Float>.self)
            if squared { let d = v - c; acc += d * d } else { acc += v }
            j += 16
        }
        var rest: Float = 0
        while j < end {
            let v = p[j]
            rest += squared ? (v - m) * (v - m) : v
            j += 1
        }
        total += Double(acc.sum() + rest)
        i = end
    }
    return total
}
