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
                    try DNNLRuntime.check(dnnl_sgemm(
                        CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")), Int64(taps), Int64(rows * width),
                        Int64(inputChannels), 1, ap, Int64(inputChannels), xImage + h0 * width, Int64(height * width),
                        0, zp, Int64(rows * width)), "run a narrow convolution's GEMM")
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
