import Engine

/// Exact inference of a large image in bounded memory: the generator runs layer by layer, each
/// convolution over bands of output rows (reading the input rows each band needs, halo
/// included), its output written whole-image to an `ActivationStore` while the statistics of
/// the normalisation that follows are summed over the whole image. Normalisations, activations,
/// padding, residual sums and skips are applied as bands are read (`StreamValue`).
///
/// Every normalisation therefore uses the whole image's statistics, as `Generator.forward` does:
/// the result differs from it only by floating-point rounding (convolution algorithms see
/// different band shapes). Memory is the bands plus what `ScratchSpace` keeps in memory; the
/// rest of each layer lives in scratch files. Stochastic dropout is not streamed (its random
/// draws follow the whole-image order).
public struct StreamedForward {
    public let context: ForwardContext
    public let scratch: ScratchSpace
    /// Working bytes one band may take (its input rows and output rows, with room for the
    /// convolution's own buffers).
    public let bandBytes: Int

    public init(context: ForwardContext, scratch: ScratchSpace, bandBytes: Int) {
        (self.context, self.scratch, self.bandBytes) = (context, scratch, bandBytes)
    }

    /// `generator.forward(image, condition:)` for one image (1×C×H×W).
    public func callAsFunction(_ generator: Generator, _ image: Tensor, condition: Tensor? = nil) throws -> Tensor {
        guard image.rank == 4, image.shape[0] == 1 else {
            throw ModelError(.invalidInput, "streamed inference takes one image at a time (1×C×H×W), got \(image.shape)")
        }
        guard context.dropout == nil else {
            throw ModelError(.invalidInput, "stochastic dropout cannot be streamed: the image is too large for one pass within the memory limit; raise the limit or convert without stochastic dropout")
        }
        // Shapes, condition and size rules as the whole-image forward checks them.
        try generator.validate(image.shape, condition: condition?.shape)
        var input: StreamValue = TensorValue(image)
        if let condition {
            input = ConcatValue(input, ConstantValue(condition.values, height: image.shape[2], width: image.shape[3]))
        }
        let output = try apply(generator.root, input)
        return try gather(output)
    }

    /// The module's output as a stream value: the layer says what it needs (`StreamedLayer`);
    /// convolutions are computed here, the rest deferred.
    func apply(_ module: Module, _ x: StreamValue) throws -> StreamValue {
        if let layer = module as? StreamedLayer { return try layer.streamed(x, by: self) }
        // `--norm none` leaves an empty Module where the norm was: the identity.
        guard module.children.isEmpty, module.tensors.isEmpty else {
            throw ModelError(.invalidInput, "streamed inference does not know the layer \(type(of: module))")
        }
        return x
    }

    /// Output rows per band for a layer reading `inRow` bytes per input row (`stride` of them per
    /// output row) and writing `outRow` bytes per output row.
    func bandRows(inRow: Int, outRow: Int, stride: Int) -> Int {
        // ×3: the convolution's packed input and output and the band read through a chain of
        // deferred ops each take about as much again.
        max(1, bandBytes / max(1, 3 * (inRow * stride + outRow)))
    }

    func convolve(_ x: StreamValue, _ layer: Conv2d) throws -> StreamValue {
        let weight = layer.weight, g = layer.geometry
        let (cout, k) = (weight.shape[0], weight.shape[2])
        let out = g.convOutput(h: x.height, w: x.width, kh: k, kw: weight.shape[3])
        guard out.h > 0, out.w > 0 else { throw ModelError(.invalidInput, "the image is too small for a \(k)×\(k) convolution") }
        let store = try ActivationStore(channels: cout, height: out.h, width: out.w, scratch: scratch)
        let rows = bandRows(inRow: x.channels * x.width * 4, outRow: cout * out.w * 4, stride: g.strideH)
        for y0 in Swift.stride(from: 0, to: out.h, by: rows) {
            let y1 = min(out.h, y0 + rows)
            // Input rows the band covers, in the zero-padded frame, then clipped to the image:
            // what falls outside becomes this band's own zero padding.
            let top = y0 * g.strideH - g.padTop, bottom = (y1 - 1) * g.strideH + k - g.padTop
            let r0 = max(0, top), r1 = min(x.height, bottom)
            let band = ConvGeometry(strideH: g.strideH, strideW: g.strideW, padTop: r0 - top, padLeft: g.padLeft,
                                    padBottom: bottom - r1, padRight: g.padRight)
            let y = try context.backend.conv2d(try x.rows(r0..<r1), weight: weight, bias: layer.bias, geometry: band)
            try store.write(y, atRow: y0)
        }
        return StoredValue(store)
    }

    func convolveTransposed(_ x: StreamValue, _ layer: ConvTranspose2d) throws -> StreamValue {
        let weight = layer.weight, g = layer.geometry
        let (cout, k, s, p, op) = (weight.shape[1], weight.shape[2], g.strideH, g.padTop, g.outputPaddingH)
        let out = g.transposedOutput(h: x.height, w: x.width, kh: k, kw: weight.shape[3])
        // Each band runs with the layer's own geometry: its output row r is output row i0·s + r,
        // and rows whose taps all fall in the band's input are exact. That covers a band's first
        // row while k − p ≥ s and its last while k + op + 1 > s + p (true of every generator here).
        guard k - p >= s, k + op + 1 > s + p, out.h > 0, out.w > 0 else {
            throw ModelError(.invalidInput, "streamed inference does not handle this transposed convolution (kernel \(k), stride \(s), padding \(p), output padding \(op))")
        }
        let store = try ActivationStore(channels: cout, height: out.h, width: out.w, scratch: scratch)
        let rows = max(s, bandRows(inRow: x.channels * x.width * 4, outRow: cout * out.w * 4 * s, stride: 1) * s)
        for y0 in Swift.stride(from: 0, to: out.h, by: rows) {
            let y1 = min(out.h, y0 + rows)
            // Output row y gathers input rows i with i·s − p + j = y for a tap j < k. At least k
            // input rows, as the whole image has (extra output rows are cropped away).
            let i0 = max(0, Self.ceilDiv(y0 + p - k + 1, s))
            let i1 = min(x.height, max((y1 - 1 + p) / s + 1, i0 + k))
            let full = try context.backend.convTranspose2d(try x.rows(i0..<i1), weight: weight, bias: layer.bias, geometry: g)
            let y = try crop2d(full, top: y0 - i0 * s, left: 0, height: y1 - y0, width: out.w)
            try store.write(y, atRow: y0)
        }
        return StoredValue(store)
    }

    static func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }

    /// A fixed per-channel filter (CUT's blur layers, `DepthwiseFilter`) band by band; `padding`
    /// is zero padding (reflection and replication come as a `PaddedValue`).
    func filtered(_ x: StreamValue, filter: Tensor, stride s: Int, padding p: Int, transposed: Bool) throws -> StreamValue {
        let k = filter.shape[2], c = x.channels
        let (oh, ow) = transposed ? ((x.height - 1) * s - 2 * p + k, (x.width - 1) * s - 2 * p + k)
                                  : ((x.height + 2 * p - k) / s + 1, (x.width + 2 * p - k) / s + 1)
        guard oh > 0, ow > 0, transposed || (x.height + 2 * p >= k && x.width + 2 * p >= k) else {
            throw ModelError(.invalidInput, "the image is too small for a \(k)×\(k) filter")
        }
        let store = try ActivationStore(channels: c, height: oh, width: ow, scratch: scratch)
        let rows = transposed ? max(s, bandRows(inRow: c * x.width * 4, outRow: c * ow * 4 * s, stride: 1) * s)
                              : bandRows(inRow: c * x.width * 4, outRow: c * ow * 4, stride: s)
        for y0 in Swift.stride(from: 0, to: oh, by: rows) {
            let y1 = min(oh, y0 + rows)
            let y: Tensor
            if transposed {
                // Output row Y gathers input rows i with s·i − p + a = Y for a tap a < k.
                let i0 = max(0, Self.ceilDiv(y0 + p - k + 1, s)), i1 = min(x.height, (y1 - 1 + p) / s + 1)
                y = try DepthwiseFilter.spread(try x.rows(i0..<max(i0 + 1, i1)), filter: filter, stride: s, padding: p,
                                               outputHeight: y1 - y0, outputWidth: ow, outputRowOffset: y0 - s * i0)
            } else {
                // Output row y reads input rows s·y − p + a.
                let i0 = max(0, s * y0 - p), i1 = min(x.height, s * (y1 - 1) - p + k)
                y = try DepthwiseFilter.correlate(try x.rows(i0..<i1), filter: filter, stride: s, padding: p,
                                                  outputHeight: y1 - y0, outputWidth: ow, inputRowOffset: s * y0 - i0)
            }
            try store.write(y, atRow: y0)
        }
        return StoredValue(store)
    }

    /// A normalisation as a per-channel multiply-add on read, with the statistics its input's
    /// store summed while it was written (or the running statistics, as the context says).
    func normalized(_ x: StreamValue, _ norm: Norm2d) throws -> StreamValue {
        let mean: [Float], variance: [Float]
        var source = x
        if case .batch = norm.kind, case .runningStatistics = context.batchNorm,
           let m = norm.tensor("running_mean"), let v = norm.tensor("running_var") {
            (mean, variance) = (m.values, v.values)
        } else {
            // One image: batch statistics are the image's own, like instance norm's.
            let s = try stored(x)
            (mean, variance) = s.store.statistics
            source = s
        }
        let weight = norm.tensor("weight")?.values, bias = norm.tensor("bias")?.values
        var scale = [Float](repeating: 0, count: x.channels), shift = scale
        for c in 0..<x.channels {
            let invStd = 1 / (variance[c] + 1e-5).squareRoot()
            scale[c] = invStd * (weight?[c] ?? 1)
            shift[c] = (bias?[c] ?? 0) - mean[c] * scale[c]
        }
        return PointwiseValue(source, scale: scale, shift: shift, activation: nil)
    }

    /// `x` as written to a store (with its statistics): as it is when it already is one.
    func stored(_ x: StreamValue) throws -> StoredValue {
        if let s = x as? StoredValue { return s }
        let store = try ActivationStore(channels: x.channels, height: x.height, width: x.width, scratch: scratch)
        let rows = bandRows(inRow: x.channels * x.width * 4, outRow: x.channels * x.width * 4, stride: 1)
        for y0 in Swift.stride(from: 0, to: x.height, by: rows) {
            try store.write(try x.rows(y0..<min(x.height, y0 + rows)), atRow: y0)
        }
        return StoredValue(store)
    }

    /// `x + body(x)`, written to a store: the next block reads it twice (its convolution and its
    /// own sum), and deferring it would chain every block's sum into every read. When `x` is
    /// itself a store, the sum overwrites it band by band (a block's input is read by nothing
    /// after the block, and each band of the sum needs only the same rows of `x`).
    func residual(_ x: StreamValue, _ body: Module) throws -> StreamValue {
        let sum = SumValue(x, try apply(body, x))
        guard let target = x as? StoredValue else { return try stored(sum) }
        target.store.resetStatistics()
        let rows = bandRows(inRow: 2 * x.channels * x.width * 4, outRow: x.channels * x.width * 4, stride: 1)
        for y0 in Swift.stride(from: 0, to: x.height, by: rows) {
            try target.store.write(try sum.rows(y0..<min(x.height, y0 + rows)), atRow: y0)
        }
        return StoredValue(target.store)
    }

    /// The whole output in memory.
    func gather(_ y: StreamValue) throws -> Tensor {
        let out = try Tensor(uninitialized: [1, y.channels, y.height, y.width])
        let rows = bandRows(inRow: 0, outRow: y.channels * y.width * 4, stride: 1)
        let plane = y.height * y.width
        for y0 in Swift.stride(from: 0, to: y.height, by: rows) {
            let band = try y.rows(y0..<min(y.height, y0 + rows))
            let n = band.shape[2]
            band.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for c in 0..<y.channels {
                        (dst.baseAddress! + c * plane + y0 * y.width).update(from: src.baseAddress! + c * n * y.width, count: n * y.width)
                    }
                }
            }
        }
        return out
    }
}
