import CDNNL

/// A 3×3 stride-1 convolution by Winograd F(4×4, 3×3), with oneDNN's sgemm doing the 36
/// products: for CPUs where oneDNN 2.6 has no Winograd kernel of its own (it has one only from
/// AVX-512 on), where it needs 4× fewer multiplications than the direct kernel.
///
/// The output is cut into 4×4 tiles, processed in blocks of whole tile rows so that scratch
/// memory is bounded by the block, not the image. Per block: the input transform writes
/// `V[ξ][cin][tiles]`, 36 GEMMs `M_ξ = U_ξ V_ξ` (one per coordinate ξ, spread over the cores,
/// each single-threaded), then the output transform writes the tiles into `y`. Input and
/// output stay in PyTorch's plain NCHW layout, so no reorders are needed either side.
struct WinogradConvolution {
    let batch, inputChannels, outputChannels: Int
    let height, width, outputHeight, outputWidth: Int
    let padTop, padLeft: Int
    let tilesH, tilesW: Int
    /// Tile rows per block, and the row stride of V and M (a SIMD vector of slack at the end,
    /// so the transforms never need a scalar tail).
    let rowsPerBlock: Int
    let leading: Int

    typealias V8 = SIMD8<Float>

    /// Whether this algorithm computes the convolution: 3×3 kernel, stride 1, and (so the
    /// input-gradient adjoint exists in the same form) padding of at most 2 on each side.
    static func applies(weight: [Int], geometry g: ConvGeometry) -> Bool {
        weight.count == 4 && weight[2] == 3 && weight[3] == 3 && g.strideH == 1 && g.strideW == 1
            && [g.padTop, g.padLeft, g.padBottom, g.padRight].allSatisfy { (0...2).contains($0) }
    }

    /// - Parameter blockBytes: scratch budget for one block's V and M (at least one tile row).
    ///   Wide blocks pay: each GEMM re-packs its 36·cin·cout weights per call, so resnet_9blocks
    ///   at 256² took 0.38 s with 6 MB blocks (112 tiles) and 0.29 s with the whole image (256
    ///   tiles) in one; at 1024×768, 24 MB to 400 MB blocks ran within noise of each other.
    init(input: [Int], outputChannels: Int, geometry g: ConvGeometry, blockBytes: Int = 32 << 20) {
        (batch, inputChannels, height, width) = (input[0], input[1], input[2], input[3])
        self.outputChannels = outputChannels
        (outputHeight, outputWidth) = g.convOutput(h: height, w: width, kh: 3, kw: 3)
        (padTop, padLeft) = (g.padTop, g.padLeft)
        tilesH = (outputHeight + 3) / 4
        tilesW = (outputWidth + 3) / 4
        let rowBytes = WinogradF43.coordinates * (inputChannels + outputChannels) * tilesW * 4
        rowsPerBlock = max(1, min(tilesH, blockBytes / max(1, rowBytes)))
        leading = (rowsPerBlock * tilesW + 7) / 8 * 8 + 8
    }

    /// Bytes of transformed weights (`U`) for this shape.
    var weightCount: Int { WinogradF43.coordinates * inputChannels * outputChannels }

    /// `y = conv(x) + bias`, with `u` from `WinogradF43.transformWeights` for this layer.
    func run(x: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             y: UnsafeMutablePointer<Float>) throws {
        let v = try AlignedBuffer(byteCount: WinogradF43.coordinates * inputChannels * leading * 4)
        let m = try AlignedBuffer(byteCount: WinogradF43.coordinates * outputChannels * leading * 4)
        let vp = v.pointer.bindMemory(to: Float.self, capacity: v.byteCount / 4)
        let mp = m.pointer.bindMemory(to: Float.self, capacity: m.byteCount / 4)
        for image in 0..<batch {
            for ty0 in stride(from: 0, to: tilesH, by: rowsPerBlock) {
                let rows = min(rowsPerBlock, tilesH - ty0)
                let tiles = rows * tilesW
                parallelFor(inputChannels, elementsPerItem: tiles * 100) { c in
                    transformInput(x, image: image, channel: c, ty0: ty0, rows: rows, into: vp)
                }
                var failure: dnnl_status_t = dnnl_success
                parallelFor(WinogradF43.coordinates, elementsPerItem: 1 << 20) { xi in
                    let status = dnnl_sgemm(
                        CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")),
                        Int64(outputChannels), Int64(tiles), Int64(inputChannels), 1,
                        u + xi * outputChannels * inputChannels, Int64(inputChannels),
                        vp + xi * inputChannels * leading, Int64(leading), 0,
                        mp + xi * outputChannels * leading, Int64(leading))
                    if status != dnnl_success { failure = status }
                }
                try DNNLRuntime.check(failure, "run the Winograd GEMMs")
                parallelFor(outputChannels, elementsPerItem: tiles * 100) { co in
                    transformOutput(mp, image: image, channel: co, ty0: ty0, rows: rows, bias: bias?[co] ?? 0, into: y)
                }
            }
        }
        withExtendedLifetime((v, m)) {}
    }

    /// `Bᵀ d B` for every tile of one channel in the block's tile rows, written to
    /// `V[ξ][c][t]`. Input rows are first split into four column phases (column 4q + p goes to
    /// phase p, index q), so the six columns a tile reads are six contiguous vectors over tiles.
    func transformInput(_ x: UnsafePointer<Float>, image: Int, channel c: Int, ty0: Int, rows: Int,
                                into v: UnsafeMutablePointer<Float>) {
        let q = (tilesW + 7) / 8 * 8 + 8, rowLength = 4 * q
        let plane = x + (image * inputChannels + c) * height * width
        let vStride = inputChannels * leading
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 12 * rowLength) { scratch in
            let p = scratch.baseAddress!, r = p + 6 * rowLength
            for ty in ty0..<(ty0 + rows) {
                for i in 0..<6 {
                    let dst = p + i * rowLength
                    let hh = 4 * ty + i - padTop
                    guard hh >= 0 && hh < height else {
                        dst.initialize(repeating: 0, count: rowLength)
                        continue
                    }
                    let src = plane + hh * width
                    for phase in 0..<4 {
                        // Column 4k + phase − padLeft is inside the image for k in [first, end).
                        let out = dst + phase * q, shift = phase - padLeft
                        let first = min(q, max(0, (3 - shift) / 4))
                        let end = max(first, min(q, (width - shift + 3) / 4))
                        out.initialize(repeating: 0, count: first)
                        var s = src + (4 * first + shift)
                        for k in first..<end {
                            out[k] = s.pointee
                            s += 4
                        }
                        (out + end).initialize(repeating: 0, count: q - end)
                    }
                }
                // Along the columns: R_k = Σ_r Bᵀ[k][r] d_r, for all phases at once.
                for i in stride(from: 0, to: rowLength, by: 8) {
                    let o = WinogradF43.input(load(p + i), load(p + rowLength + i), load(p + 2 * rowLength + i),
                                              load(p + 3 * rowLength + i), load(p + 4 * rowLength + i),
                                              load(p + 5 * rowLength + i))
                    store(o.0, r + i); store(o.1, r + rowLength + i); store(o.2, r + 2 * rowLength + i)
                    store(o.3, r + 3 * rowLength + i); store(o.4, r + 4 * rowLength + i); store(o.5, r + 5 * rowLength + i)
                }
                // Along the rows: tile tx reads columns 4tx…4tx+5 = phases 0–3 at tx, 0–1 at tx+1.
                let tileBase = (ty - ty0) * tilesW
                for k in 0..<6 {
                    let b = r + k * rowLength
                    for tx in stride(from: 0, to: tilesW, by: 8) {
                        let o = WinogradF43.input(load(b + tx), load(b + q + tx), load(b + 2 * q + tx),
                                                  load(b + 3 * q + tx), load(b + tx + 1), load(b + q + tx + 1))
                        let dst = v + k * 6 * vStride + c * leading + tileBase + tx
                        store(o.0, dst); store(o.1, dst + vStride); store(o.2, dst + 2 * vStride)
                        store(o.3, dst + 3 * vStride); store(o.4, dst + 4 * vStride); store(o.5, dst + 5 * vStride)
                    }
                }
            }
        }
    }

    /// `Aᵀ M A + bias` for every tile of one output channel in the block, written into `y`
    /// (tiles past the output's edge are cut).
    private func transformOutput(_ m: UnsafePointer<Float>, image: Int, channel co: Int, ty0: Int, rows: Int,
                                 bias: Float, into y: UnsafeMutablePointer<Float>) {
        let mStride = outputChannels * leading
        let plane = y + (image * outputChannels + co) * outputHeight * outputWidth
        withUnsafeTemporaryAllocation(of: V8.self, capacity: 24 + 16) { scratch in
            let z = scratch.baseAddress!, out = z + 24
            for ty in ty0..<(ty0 + rows) {
                for tx in stride(from: 0, to: tilesW, by: 8) {
                    let src = m + co * leading + (ty - ty0) * tilesW + tx
                    // Along the rows: Z[k][j] = Σ_l Aᵀ[j][l] M[k][l].
                    for k in 0..<6 {
                        let b = src + k * 6 * mStride
                        (z[4 * k], z[4 * k + 1], z[4 * k + 2], z[4 * k + 3]) = WinogradF43.output(
                            load(b), load(b + mStride), load(b + 2 * mStride), load(b + 3 * mStride),
                            load(b + 4 * mStride), load(b + 5 * mStride))
                    }
                    // Along the columns: Y[i][j] = Σ_k Aᵀ[i][k] Z[k][j].
                    for j in 0..<4 {
                        let o = WinogradF43.output(z[j], z[4 + j], z[8 + j], z[12 + j], z[16 + j], z[20 + j])
                        (out[j], out[4 + j], out[8 + j], out[12 + j]) = (o.0 + bias, o.1 + bias, o.2 + bias, o.3 + bias)
                    }
                    for lane in 0..<min(8, tilesW - tx) {
                        let col = 4 * (tx + lane)
                        let columns = min(4, outputWidth - col)
                        for i in 0..<4 {
                            let row = 4 * ty + i
                            guard row < outputHeight else { break }
                            let dst = plane + row * outputWidth + col
                            for j in 0..<columns { dst[j] = out[4 * i + j][lane] }
                        }
                    }
                }
            }
        }
    }

    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V8 {
        UnsafeRawPointer(p).loadUnaligned(as: V8.self)
    }

    @inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> V8 {
        UnsafeRawPointer(p).loadUnaligned(as: V8.self)
    }

    @inline(__always) func store(_ value: V8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: V8.self)
    }
}
