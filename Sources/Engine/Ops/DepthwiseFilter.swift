/// Per-channel filtering with a fixed filter: CUT's anti-aliased `Downsample` (a binomial blur
/// with stride 2, `F.conv2d(x, filt, stride, groups=C)`) and `Upsample`
/// (`F.conv_transpose2d(x, filt, stride, padding, groups=C)`). The filters are buffers, never
/// trained, so the gradients flow to the input only. Each op is the other's adjoint, which is
/// its backward. Plain loops: a few multiply-adds per output value, far below a convolution.
///
/// `filter` is C×1×k×k (one k×k filter per channel, as the checkpoints store it). Both kernels
/// take their output size and a row offset so that streamed inference can run them on bands.
public enum DepthwiseFilter {
    /// `out[y][x] = Σ f[a][b] · in[s·y − p + a + inputRowOffset][s·x − p + b]`, zero outside `in`.
    public static func correlate(_ x: Tensor, filter: Tensor, stride s: Int, padding p: Int,
                                 outputHeight oh: Int, outputWidth ow: Int, inputRowOffset: Int = 0) throws -> Tensor {
        let (n, c, h, w) = x.nchw
        let k = try kernelSize(filter, channels: c)
        let y = try Tensor(zeros: [n, c, oh, ow])
        let xp = x.pointer, yp = y.mutablePointer, fp = filter.pointer
        parallelFor(n * c, elementsPerItem: oh * ow * k * k) { plane in
            let src = xp + plane * h * w, dst = yp + plane * oh * ow, f = fp + (plane % c) * k * k
            // Output columns whose tap b lands inside the row, for each b.
            let columns = (0..<k).map { b in columnRange(inputWidth: w, outputWidth: ow, stride: s, offset: b - p) }
            for oy in 0..<oh {
                let out = dst + oy * ow
                for a in 0..<k {
                    let iy = s * oy - p + a + inputRowOffset
                    guard iy >= 0, iy < h else { continue }
                    let row = src + iy * w
                    for b in 0..<k {
                        let weight = f[a * k + b], shift = b - p
                        for ox in columns[b] { out[ox] += weight * row[s * ox + shift] }
                    }
                }
            }
        }
        return y
    }

    /// `out[Y][X] = Σ f[a][b] · in[i][j]` over `s·i − p + a = Y + outputRowOffset`, `s·j − p + b = X`:
    /// the transposed convolution (each input value spread over a k×k window, stride s apart).
    public static func spread(_ x: Tensor, filter: Tensor, stride s: Int, padding p: Int,
                              outputHeight oh: Int, outputWidth ow: Int, outputRowOffset: Int = 0) throws -> Tensor {
        let (n, c, h, w) = x.nchw
        let k = try kernelSize(filter, channels: c)
        let y = try Tensor(zeros: [n, c, oh, ow])
        let xp = x.pointer, yp = y.mutablePointer, fp = filter.pointer
        parallelFor(n * c, elementsPerItem: oh * ow * k * k / max(1, s * s)) { plane in
            let src = xp + plane * h * w, dst = yp + plane * oh * ow, f = fp + (plane % c) * k * k
            // For tap b: input columns j with 0 ≤ s·j − p + b < ow.
            let inputs = (0..<k).map { b -> Range<Int> in
                let lo = max(0, ceilDiv(p - b, s)), hi = min(w, floorDiv(ow - 1 + p - b, s) + 1)
                return lo..<max(lo, hi)
            }
            for oy in 0..<oh {
                let out = dst + oy * ow
                for a in 0..<k {
                    let t = oy + outputRowOffset + p - a
                    guard t >= 0, t % s == 0, t / s < h else { continue }
                    let row = src + (t / s) * w
                    for b in 0..<k {
                        let weight = f[a * k + b], shift = b - p
                        for j in inputs[b] { out[s * j + shift] += weight * row[j] }
                    }
                }
            }
        }
        return y
    }

    /// Output columns x with `0 ≤ s·x + offset < inputWidth`.
    static func columnRange(inputWidth w: Int, outputWidth ow: Int, stride s: Int, offset: Int) -> Range<Int> {
        let lo = max(0, ceilDiv(-offset, s)), hi = min(ow, floorDiv(w - 1 - offset, s) + 1)
        return lo..<max(lo, hi)
    }

    static func kernelSize(_ filter: Tensor, channels: Int) throws(EngineError) -> Int {
        let f = filter.shape
        guard f.count == 4, f[0] == channels, f[1] == 1, f[2] == f[3], f[2] > 0 else {
            throw EngineError(.shapeMismatch, "a depthwise filter for \(channels) channels is \(channels)×1×k×k, got \(f)")
        }
        return f[2]
    }

    @inline(__always) public static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    @inline(__always) public static func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }
}

/// `F.conv2d(x, filter, stride: s, padding: p, groups: C)` with a constant filter; differentiable
/// in `x` (twice: the backward is the transposed op, itself differentiable).
public func depthwiseConv2d(_ x: Variable, filter: Tensor, stride: Int, padding: Int = 0) throws -> Variable {
    let (h, w) = (x.shape[2], x.shape[3]), k = filter.shape.count == 4 ? filter.shape[2] : 0
    let oh = (h + 2 * padding - k) / stride + 1, ow = (w + 2 * padding - k) / stride + 1
    guard stride > 0, padding >= 0, h + 2 * padding >= k, w + 2 * padding >= k else {
        throw EngineError(.shapeMismatch, "a \(k)×\(k) depthwise filter does not fit a \(h)×\(w) input with padding \(padding)")
    }
    return try depthwise(x, filter: filter, stride: stride, padding: padding, height: oh, width: ow, transposed: false)
}

/// `F.conv_transpose2d(x, filter, stride: s, padding: p, groups: C)` with a constant filter:
/// output (H − 1)·s − 2p + k; differentiable in `x` (twice).
public func depthwiseConvTranspose2d(_ x: Variable, filter: Tensor, stride: Int, padding: Int) throws -> Variable {
    let (h, w) = (x.shape[2], x.shape[3]), k = filter.shape.count == 4 ? filter.shape[2] : 0
    let oh = (h - 1) * stride - 2 * padding + k, ow = (w - 1) * stride - 2 * padding + k
    guard stride > 0, padding >= 0, oh > 0, ow > 0 else {
        throw EngineError(.shapeMismatch, "a \(k)×\(k) transposed depthwise filter with stride \(stride) and padding \(padding) leaves nothing of a \(h)×\(w) input")
    }
    return try depthwise(x, filter: filter, stride: stride, padding: padding, height: oh, width: ow, transposed: true)
}

/// Either kernel as a differentiable op with an explicit output size: the backward of one is the
/// other at the input's size, itself differentiable (the twin).
private func depthwise(_ x: Variable, filter: Tensor, stride: Int, padding: Int, height: Int, width: Int,
                       transposed: Bool) throws -> Variable {
    let (h, w) = (x.shape[2], x.shape[3])
    let kernel = transposed ? DepthwiseFilter.spread : DepthwiseFilter.correlate
    let adjoint = transposed ? DepthwiseFilter.correlate : DepthwiseFilter.spread
    let y = try kernel(x.data, filter, stride, padding, height, width, 0)
    return record(transposed ? "depthwiseConvTranspose2d" : "depthwiseConv2d", y, [x], {
        { g in [try adjoint(g, filter, stride, padding, h, w, 0)] }
    }, twin: {
        { g in [try depthwise(g, filter: filter, stride: stride, padding: padding, height: h, width: w, transposed: !transposed)] }
    })
}
