import Foundation

// The pieces of CUT's PatchNCE (taesungp/contrastive-unpaired-translation): a linear layer for
// PatchSampleF's MLP heads, sampling feature-map positions, L2 normalisation of rows, and the
// contrastive loss itself. Every GEMM goes through oneDNN's sgemm.

/// `nn.Linear`: `x·Wᵀ + b` for x N×in, weight out×in, bias out.
public func linear(_ x: Variable, weight: Variable, bias: Variable?) throws -> Variable {
    guard x.shape.count == 2, weight.shape.count == 2, x.shape[1] == weight.shape[1],
          bias.map({ $0.shape == [weight.shape[0]] }) ?? true else {
        throw EngineError(.shapeMismatch, "linear: input \(x.shape) does not fit weight \(weight.shape)")
    }
    let (n, inputs, outputs) = (x.shape[0], x.shape[1], weight.shape[0])
    let y = try Tensor(uninitialized: [n, outputs])
    if let bias {
        let bp = bias.data.pointer, yp = y.mutablePointer
        for r in 0..<n { (yp + r * outputs).update(from: bp, count: outputs) }
    }
    try gemm(transposeB: true, m: n, n: outputs, k: inputs, x.data, weight.data, beta: bias == nil ? 0 : 1, into: y)
    let (xd, wd) = (x.data, weight.data)
    return record("linear", y, [x, weight, bias]) {
        { g in
            let gx = try Tensor(uninitialized: [n, inputs]), gw = try Tensor(uninitialized: [outputs, inputs])
            try gemm(m: n, n: inputs, k: outputs, g, wd, beta: 0, into: gx)
            try gemm(transposeA: true, m: outputs, n: inputs, k: n, g, xd, beta: 0, into: gw)
            var gb: Tensor?
            if bias != nil {
                let sums = try Tensor(zeros: [outputs])
                let gp = g.pointer, sp = sums.mutablePointer
                for r in 0..<n { for c in 0..<outputs { sp[c] += gp[r * outputs + c] } }
                gb = sums
            }
            return [gx, gw, gb]
        }
    }
}

/// Row-major `C = op(A)·op(B) + β·C` of whole tensors.
private func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                  _ a: Tensor, _ b: Tensor, beta: Float, into c: Tensor) throws {
    guard m > 0, n > 0 else { return }
    try DNNLRuntime.check(DNNLRuntime.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                            a: a.pointer, lda: transposeA ? m : k, b: b.pointer, ldb: transposeB ? k : n,
                                            beta: beta, c: c.mutablePointer, ldc: n), "multiply matrices")
}

/// Images `range` of a batch (`x[a:b]`); the gradient is zero for the others.
public func sliceBatch(_ x: Variable, _ range: Range<Int>) throws -> Variable {
    guard x.shape.count >= 1, range.lowerBound >= 0, range.upperBound <= x.shape[0], !range.isEmpty else {
        throw EngineError(.shapeMismatch, "images \(range) of a batch of \(x.shape.first ?? 0)")
    }
    let per = x.data.count / max(1, x.shape[0])
    let y = try Tensor(uninitialized: [range.count] + x.shape.dropFirst())
    y.mutablePointer.update(from: x.data.pointer + range.lowerBound * per, count: range.count * per)
    let shape = x.shape
    return record("sliceBatch", y, [x]) {
        { g in
            let gx = try Tensor(zeros: shape)
            (gx.mutablePointer + range.lowerBound * per).update(from: g.pointer, count: range.count * per)
            return [gx]
        }
    }
}

/// `torch.flip(x, [3])`: each row reversed; its own gradient's flip is its backward.
public func flipWidth(_ x: Tensor) throws -> Tensor {
    let (n, c, h, w) = x.nchw
    let y = try Tensor(uninitialized: x.shape)
    let xp = x.pointer, yp = y.mutablePointer
    for r in 0..<(n * c * h) { for i in 0..<w { yp[r * w + i] = xp[r * w + w - 1 - i] } }
    return y
}

public func flipWidth(_ x: Variable) throws -> Variable {
    record("flip", try flipWidth(x.data), [x]) { { g in [try flipWidth(g)] } }
}

/// PatchSampleF's sampling: `feat.permute(0, 2, 3, 1).flatten(1, 2)[:, ids, :].flatten(0, 1)`,
/// i.e. row `b·n + t` holds the C channels of image b at flat position `ids[t]` (y·W + x).
public func samplePositions(_ x: Variable, ids: [Int]) throws -> Variable {
    let (batch, c, h, w) = x.data.nchw
    guard x.shape.count == 4, ids.allSatisfy({ (0..<(h * w)).contains($0) }) else {
        throw EngineError(.shapeMismatch, "sample positions: ids outside the \(h)×\(w) map")
    }
    let n = ids.count, plane = h * w
    let y = try Tensor(uninitialized: [batch * n, c])
    let xp = x.data.pointer, yp = y.mutablePointer
    for b in 0..<batch {
        for (t, id) in ids.enumerated() {
            for ch in 0..<c { yp[(b * n + t) * c + ch] = xp[(b * c + ch) * plane + id] }
        }
    }
    let shape = x.shape
    return record("samplePositions", y, [x]) {
        { g in
            let gx = try Tensor(zeros: shape)
            let gp = g.pointer, dp = gx.mutablePointer
            for b in 0..<batch {
                for (t, id) in ids.enumerated() {
                    for ch in 0..<c { dp[(b * c + ch) * plane + id] += gp[(b * n + t) * c + ch] }
                }
            }
            return [gx]
        }
    }
}

/// CUT's `Normalize(2)`: each row divided by its L2 norm plus 1e-7.
public func l2NormalizeRows(_ x: Variable, epsilon: Float = 1e-7) throws -> Variable {
    guard x.shape.count == 2 else { throw EngineError(.shapeMismatch, "L2 normalisation of rows takes N×D, got \(x.shape)") }
    let (rows, d) = (x.shape[0], x.shape[1])
    let y = try Tensor(uninitialized: x.shape)
    let xp = x.data.pointer, yp = y.mutablePointer
    var norms = [Float](repeating: 0, count: rows)
    for r in 0..<rows {
        var sum = 0.0
        for i in 0..<d { sum += Double(xp[r * d + i]) * Double(xp[r * d + i]) }
        norms[r] = Float(sum.squareRoot())
        let scale = 1 / (norms[r] + epsilon)
        for i in 0..<d { yp[r * d + i] = xp[r * d + i] * scale }
    }
    let xd = x.data
    return record("l2NormalizeRows", y, [x]) {
        { g in
            // y = x / (n + ε), n = ‖x‖: dx = g / (n + ε) − x · ⟨g, x⟩ / ((n + ε)² n).
            let gx = try Tensor(uninitialized: xd.shape)
            let gp = g.pointer, xp = xd.pointer, dp = gx.mutablePointer
            for r in 0..<rows {
                let n = norms[r], denominator = n + epsilon
                var dot = 0.0
                for i in 0..<d { dot += Double(gp[r * d + i]) * Double(xp[r * d + i]) }
                let along = n > 0 ? Float(dot / (Double(denominator) * Double(denominator) * Double(n))) : 0
                for i in 0..<d { dp[r * d + i] = gp[r * d + i] / denominator - xp[r * d + i] * along }
            }
            return [gx]
        }
    }
}

/// CUT's `PatchNCELoss(q, k).mean()`: for each of the `images` images, its n rows of q against
/// the same n rows of k (k is a constant: `feat_k.detach()`). Row i's logits are ⟨qᵢ, kᵢ⟩ then
/// ⟨qᵢ, kⱼ⟩ for every j, with j = i set to −10, all divided by `temperature`; its loss is the
/// cross entropy with class 0. The result is the mean over all rows.
public func patchNCELoss(_ q: Variable, keys k: Tensor, images: Int, temperature: Float) throws -> Variable {
    guard q.shape.count == 2, k.shape == q.shape, images > 0, q.shape[0] % images == 0, q.shape[0] > 0, temperature > 0 else {
        throw EngineError(.shapeMismatch, "PatchNCE: queries \(q.shape) and keys \(k.shape) do not split into \(images) images")
    }
    let (rows, d) = (q.shape[0], q.shape[1]), n = rows / images
    // Per image: S = Q·Kᵀ (n×n), then dL/dS, whose product with K is dL/dQ.
    let similarity = try Tensor(uninitialized: [n, n])
    let gradS = try Tensor(uninitialized: [images, n, n])
    var total = 0.0
    let t = Double(temperature)
    for b in 0..<images {
        let qb = try slice(q.data, rows: b * n, count: n), kb = try slice(k, rows: b * n, count: n)
        try gemm(transposeB: true, m: n, n: n, k: d, qb, kb, beta: 0, into: similarity)
        let sp = similarity.pointer, gp = gradS.mutablePointer + b * n * n
        var logits = [Double](repeating: 0, count: n + 1)
        for i in 0..<n {
            logits[0] = Double(sp[i * n + i]) / t
            for j in 0..<n { logits[j + 1] = (j == i ? -10 : Double(sp[i * n + j])) / t }
            let top = logits.max()!
            let sum = logits.reduce(0) { $0 + exp($1 - top) }
            total += top + log(sum) - logits[0]
            for j in 0..<n {
                let p = exp(logits[j + 1] - top) / sum
                gp[i * n + j] = Float((j == i ? 0 : p) / t)
            }
            gp[i * n + i] = Float((exp(logits[0] - top) / sum - 1) / t)
        }
    }
    let loss = try Tensor(shape: [], values: [Float(total / Double(rows))])
    return record("patchNCE", loss, [q]) {
        { outer in
            let gq = try Tensor(uninitialized: q.shape)
            let scale = outer.pointer[0] / Float(rows)
            for b in 0..<images {
                let g = try slice(gradS, rows: b * n, count: n, width: n), kb = try slice(k, rows: b * n, count: n)
                let out = try Tensor(uninitialized: [n, d])
                try gemm(m: n, n: d, k: n, g, kb, beta: 0, into: out)
                let op = out.pointer, dp = gq.mutablePointer + b * n * d
                for i in 0..<(n * d) { dp[i] = op[i] * scale }
            }
            return [gq]
        }
    }
}

/// Rows `rows..<rows + count` of a row-major matrix as a tensor of their own.
private func slice(_ x: Tensor, rows start: Int, count: Int, width: Int? = nil) throws -> Tensor {
    let w = width ?? x.shape[1]
    let y = try Tensor(uninitialized: [count, w])
    y.mutablePointer.update(from: x.pointer + start * w, count: count * w)
    return y
}
