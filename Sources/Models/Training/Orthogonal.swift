import Engine

/// PyTorch's `orthogonal_(gain)` for `weight` viewed as a `rows`×`cols` matrix: the Q factor of a
/// Gaussian matrix (transposed when rows < cols), with signs fixed so R's diagonal is positive,
/// times `gain`. Written into `weight` in place.
///
/// Q comes from Gram–Schmidt in Double, which yields exactly the positive-diagonal QR. Classical
/// Gram–Schmidt with a second pass when a column loses most of its norm ("twice is enough",
/// Kahan–Parlett) keeps Q orthonormal to rounding while doing one pass almost always.
func orthogonal(_ weight: Tensor, rows: Int, cols: Int, gain: Double, _ gaussian: inout GaussianSource) {
    let transposed = rows < cols
    let m = max(rows, cols), n = min(rows, cols)
    // n columns of length m, each contiguous. The Gaussian is drawn row-major over rows×cols,
    // as PyTorch fills its flattened matrix.
    var q = [Double](repeating: 0, count: m * n)
    for i in 0..<rows {
        for j in 0..<cols {
            // Transposed: column i of Aᵀ is row i of A.
            q[transposed ? i * m + j : j * m + i] = gaussian.next()
        }
    }
    q.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        // Columns go in blocks: projecting a block on all earlier columns streams those once per
        // block instead of once per column (a conv weight's Q is tens of MB).
        let blockSize = 32
        for start in stride(from: 0, to: n, by: blockSize) {
            let count = min(blockSize, n - start)
            project(base, m: m, block: start, count: count)
            for j in start..<start + count {
                project(base, m: m, block: j, count: 1, from: start)
                let v = base + j * m
                // A zero column has probability zero for a Gaussian matrix; leave it rather than divide.
                let length = dot(v, v, m).squareRoot()
                if length > 0 { for i in 0..<m { v[i] /= length } }
            }
        }
    }
    weight.withUnsafeMutableBufferPointer { p in
        for i in 0..<rows {
            for j in 0..<cols {
                p[i * cols + j] = Float(gain * q[transposed ? i * m + j : j * m + i])
            }
        }
    }
}

/// Removes from columns `block..<block+count` their components along the orthonormal columns
/// `from..<block`, with a second pass when any of them lost more than half its norm.
private func project(_ base: UnsafeMutablePointer<Double>, m: Int, block: Int, count: Int, from first: Int = 0) {
    let previous = block - first
    guard previous > 0 else { return }
    var before = (0..<count).map { c in dot(base + (block + c) * m, base + (block + c) * m, m).squareRoot() }
    var coefficients = [Double](repeating: 0, count: previous * count)
    let chunk = 512  // rows per pass: a chunk of the block stays in cache while earlier columns stream by
    for _ in 0..<3 {
        for i in coefficients.indices { coefficients[i] = 0 }
        for r in stride(from: 0, to: m, by: chunk) {
            let length = min(chunk, m - r)
            for k in 0..<previous {
                let column = base + (first + k) * m + r
                for c in 0..<count { coefficients[k * count + c] += dot(column, base + (block + c) * m + r, length) }
            }
        }
        for r in stride(from: 0, to: m, by: chunk) {
            let length = min(chunk, m - r)
            for c in 0..<count {
                let v = base + (block + c) * m + r
                for k in 0..<previous {
                    let column = base + (first + k) * m + r, s = coefficients[k * count + c]
                    for i in 0..<length { v[i] -= s * column[i] }
                }
            }
        }
        let after = (0..<count).map { c in dot(base + (block + c) * m, base + (block + c) * m, m).squareRoot() }
        if zip(after, before).allSatisfy({ $0 > 0.5 * $1 }) { return }
        before = after
    }
}

/// A dot product with four accumulators, so the compiler can vectorise it.
private func dot(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, _ count: Int) -> Double {
    var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
    var i = 0
    while i + 4 <= count {
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
        i += 4
    }
    while i < count {
        s0 += a[i] * b[i]
        i += 1
    }
    return (s0 + s1) + (s2 + s3)
}
