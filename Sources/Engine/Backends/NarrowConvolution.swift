import CDNNL

/// A stride-1 convolution with very few output channels (a generator's last 7×7 layer, 64 → 3)
/// as one GEMM and a shift-and-add.
///
/// oneDNN's direct kernels block output channels by 8 or 16, so with 3 of them most of each
/// vector is padding: the 64 → 3 7×7 layer ran at 16–33 GFLOP/s on two cores, 13% of
/// resnet_9blocks' time on AVX2 for 1% of its FLOPs. Here the GEMM
/// `Z[(o,i,j)][p] = Σ_c w[o][c][i][j] x[c][p]` (every tap of every output channel, at every input
/// pixel p; the same FLOPs as the convolution) runs at the library's GEMM speed, then each output
/// row sums its kh·kw shifted Z rows. Rows run in bands so Z stays within `bandBytes`.
struct NarrowConvolution {
    let batch, inputChannels, outputChannels: Int
    let height, width, outputHeight, outputWidth: Int
    let kh, kw: Int
    let padTop, padLeft: Int
    let rowsPerBand: Int

    /// Whether this path serves the layer: stride 1, at most 4 output channels, a kernel with
    /// at least 9 taps, and enough input channels for the GEMM to pay.
    static func applies(input: [Int], weight: [Int], geometry g: ConvGeometry) -> Bool {
        weight.count == 4 && g.strideH == 1 && g.strideW == 1 && weight[0] <= 4 && weight[2] * weight[3] >= 9
            && weight[1] >= 16 && input.count == 4 && input[1] == weight[1]
    }

    init(input: [Int], weight: [Int], geometry g: ConvGeometry, bandBytes: Int = 32 << 20) {
        (batch, inputChannels, height, width) = (input[0], input[1], input[2], input[3])
        (outputChannels, kh, kw) = (weight[0], weight[2], weight[3])
        (outputHeight, outputWidth) = g.convOutput(h: height, w: width, kh: kh, kw: kw)
        (padTop, padLeft) = (g.padTop, g.padLeft)
        // Z holds, per output row, up to kh input rows of outputChannels·kh·kw planes.
        let rowBytes = outputChannels * kh * kw * width * 4
        rowsPerBand = max(1, min(outputHeight, bandBytes / max(1, rowBytes) - kh + 1))
    }

    func run(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             y: UnsafeMutablePointer<Float>) throws {
        let taps = outputChannels * kh * kw
        // w'[(o,i,j)][c] = w[o][c][i][j]: the GEMM's A operand.
        let a = try AlignedBuffer(byteCount: taps * inputChannels * 4)
        let ap = a.pointer.bindMemory(to: Float.self, capacity: taps * inputChannels)
        for o in 0..<outputChannels {
            for c in 0..<inputChannels {
                for t in 0..<(kh * kw) { ap[(o * kh * kw + t) * inputChannels + c] = weight[(o * inputChannels + c) * kh * kw + t] }
            }
        }
        let maxInputRows = min(height, rowsPerBand + kh - 1)
        let z = try AlignedBuffer(byteCount: max(1, taps * maxInputRows * width) * 4)
        let zp = z.pointer.bindMemory(to: Float.self, capacity: taps * maxInputRows * width)
        for image in 0..<batch {
            let xImage = x + image * inputChannels * height * width
            for y0 in stride(from: 0, to: outputHeight, by: rowsPerBand) {
                let y1 = min(outputHeight, y0 + rowsPerBand)
                // Input rows [h0, h1) feed output rows [y0, y1); rows outside the image are padding.
                let h0 = max(0, y0 - padTop), h1 = min(height, y1 - 1 - padTop + kh)
                let rows = h1 - h0
                if rows > 0 {
                    try DNNLRuntime.check(DNNLRuntime.sgemm(
                        m: taps, n: rows * width, k: inputChannels, a: ap, lda: inputChannels,
                        b: xImage + h0 * width, ldb: height * width, beta: 0, c: zp, ldc: rows * width),
                        "run a narrow convolution's GEMM")
                }
                parallelFor(outputChannels * (y1 - y0), elementsPerItem: outputWidth * kh * kw) { item in
                    let o = item / (y1 - y0), yy = y0 + item % (y1 - y0)
                    let dst = y + ((image * outputChannels + o) * outputHeight + yy) * outputWidth
                    dst.initialize(repeating: bias?[o] ?? 0, count: outputWidth)
                    for i in 0..<kh {
                        let h = yy + i - padTop
                        guard h >= h0 && h < h1 else { continue }
                        for j in 0..<kw {
                            let plane = zp + ((o * kh + i) * kw + j) * rows * width + (h - h0) * width
                            // Output column x reads input column x + j − padLeft.
                            let shift = j - padLeft
                            let first = max(0, -shift), end = min(outputWidth, width - shift)
                            guard first < end else { continue }
                            let src = plane + shift
                            for xx in first..<end { dst[xx] += src[xx] }
                        }
                    }
                }
            }
        }
        withExtendedLifetime((a, z)) {}
    }
}

/// A transposed convolution with very few output channels (the U-Net's last 4×4 stride-2 layer,
/// 128 → 3) as one GEMM and a gather: `Z[(o,i,j)][p] = Σ_c w[c][o][i][j] x[c][p]`, then each
/// output pixel sums the Z values of the input pixels and taps that land on it. oneDNN's
/// kernel ran this layer at ~30 GFLOP/s (its output channels are padded to a vector).
/// Output rows run in bands so Z stays within `bandBytes`.
struct NarrowTransposedConvolution {
    let batch, inputChannels, outputChannels: Int
    let height, width, outputHeight, outputWidth: Int
    let kh, kw, strideH, strideW, padTop, padLeft: Int
    let rowsPerBand: Int

    /// At most 4 output channels (weight `[cin, cout, kh, kw]`) and enough input channels for
    /// the GEMM to pay.
    static func applies(input: [Int], weight: [Int]) -> Bool {
        weight.count == 4 && input.count == 4 && weight[1] <= 4 && weight[0] >= 16 && input[1] == weight[0]
    }

    init(input: [Int], weight: [Int], geometry g: ConvGeometry, bandBytes: Int = 32 << 20) {
        (batch, inputChannels, height, width) = (input[0], input[1], input[2], input[3])
        (outputChannels, kh, kw) = (weight[1], weight[2], weight[3])
        (strideH, strideW, padTop, padLeft) = (g.strideH, g.strideW, g.padTop, g.padLeft)
        (outputHeight, outputWidth) = g.transposedOutput(h: height, w: width, kh: kh, kw: kw)
        // A band of r output rows reads about r / stride + kh input rows of Z.
        let inputRowBytes = outputChannels * kh * kw * width * 4
        let inputRows = max(1, bandBytes / max(1, inputRowBytes) - kh)
        rowsPerBand = max(1, min(outputHeight, inputRows * strideH))
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

    /// Input rows whose taps reach output rows [y0, y1).
    func inputRows(_ y0: Int, _ y1: Int) -> Range<Int> {
        // Row h reaches output rows h·s − pad … h·s − pad + kh − 1.
        let first = max(0, Self.ceilDiv(y0 + padTop - kh + 1, strideH))
        let last = min(height - 1, Self.floorDiv(y1 - 1 + padTop, strideH))
        return first..<max(first, last + 1)
    }

    func run(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             y: UnsafeMutablePointer<Float>) throws {
        let taps = outputChannels * kh * kw
        let a = try AlignedBuffer(byteCount: taps * inputChannels * 4)
        let ap = a.pointer.bindMemory(to: Float.self, capacity: taps * inputChannels)
        // w'[(o,i,j)][c] = w[c][o][i][j]: the GEMM's A operand.
        for c in 0..<inputChannels {
            for t in 0..<taps { ap[t * inputChannels + c] = weight[c * taps + t] }
        }
        let maxRows = (0..<outputHeight).striding(rowsPerBand).map { inputRows($0, min(outputHeight, $0 + rowsPerBand)).count }.max() ?? 1
        let z = try AlignedBuffer(byteCount: max(1, taps * maxRows * width) * 4)
        let zp = z.pointer.bindMemory(to: Float.self, capacity: taps * max(1, maxRows) * width)
        for image in 0..<batch {
            let xImage = x + image * inputChannels * height * width
            for y0 in stride(from: 0, to: outputHeight, by: rowsPerBand) {
                let y1 = min(outputHeight, y0 + rowsPerBand)
                let rows = inputRows(y0, y1)
                if !rows.isEmpty {
                    try DNNLRuntime.check(DNNLRuntime.sgemm(
                        m: taps, n: rows.count * width, k: inputChannels, a: ap, lda: inputChannels,
                        b: xImage + rows.lowerBound * width, ldb: height * width, beta: 0, c: zp, ldc: rows.count * width),
                        "run a narrow transposed convolution's GEMM")
                }
                parallelFor(outputChannels * (y1 - y0), elementsPerItem: outputWidth * kh * kw) { item in
                    let o = item / (y1 - y0), yy = y0 + item % (y1 - y0)
                    let dst = y + ((image * outputChannels + o) * outputHeight + yy) * outputWidth
                    dst.initialize(repeating: bias?[o] ?? 0, count: outputWidth)
                    for i in 0..<kh {
                        // Output row yy = h·s − padTop + i.
                        let num = yy + padTop - i
                        guard num >= 0, num % strideH == 0 else { continue }
                        let h = num / strideH
                        guard rows.contains(h) else { continue }
                        for j in 0..<kw {
                            let src = zp + ((o * kh + i) * kw + j) * rows.count * width + (h - rows.lowerBound) * width
                            // Output column w·s − padLeft + j for input column w.
                            let w0 = max(0, Self.ceilDiv(padLeft - j, strideW))
                            let w1 = min(width, Self.floorDiv(outputWidth - 1 + padLeft - j, strideW) + 1)
                            guard w0 < w1 else { continue }
                            var out = dst + (w0 * strideW - padLeft + j)
                            for w in w0..<w1 {
                                out.pointee += src[w]
                                out += strideW
                            }
                        }
                    }
                }
            }
        }
        withExtendedLifetime((a, z)) {}
    }
}

private extension Range where Bound == Int {
    func striding(_ step: Int) -> StrideTo<Int> { Swift.stride(from: lowerBound, to: upperBound, by: Swift.max(1, step)) }
}
