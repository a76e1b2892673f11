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

    /// Where the output goes when its channels are the phases of a strided transposed
    /// convolution (`PhaseWinograd`): channel `phase·channels + c`, pixel (i, j) lands at
    /// `y[c][i·strideH + start.row][j·strideW + start.column]` of a `height`×`width` output.
    struct Interleave {
        var channels: Int
        var strideH: Int, strideW: Int
        var starts: [(row: Int, column: Int)]
        var height: Int, width: Int
    }

    /// nil: the plain NCHW output.
    var interleave: Interleave?

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
                // Each GEMM reports into its own slot: the items run on different threads.
                var statuses = [dnnl_status_t](repeating: dnnl_success, count: WinogradF43.coordinates)
                statuses.withUnsafeMutableBufferPointer { status in
                    parallelFor(WinogradF43.coordinates, elementsPerItem: 1 << 20) { xi in
                        status[xi] = DNNLRuntime.sgemm(
                            m: outputChannels, n: tiles, k: inputChannels,
                            a: u + xi * outputChannels * inputChannels, lda: inputChannels,
                            b: vp + xi * inputChannels * leading, ldb: leading, beta: 0,
                            c: mp + xi * outputChannels * leading, ldc: leading)
                    }
                }
                try DNNLRuntime.check(statuses.first { $0 != dnnl_success } ?? dnnl_success, "run the Winograd GEMMs")
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
                    splitPhases(src, into: dst, length: q)
                }
                // Along the columns: R_k = Σ_r Bᵀ[k][r] d_r, for all phases at once.
                for i in stride(from: 0, to: rowLength, by: 8) {
                    let o = WinogradF43.input(load(p + i), load(p + rowLength + i), load(p + 2 * rowLength + i),
                                              load(p + 3 * rowLength + i), load(p + 4 * rowLength + i),
                                              load(p + 5 * rowLength + i))
                    store6(o, r + i, stride: rowLength)
                }
                // Along the rows: tile tx reads columns 4tx…4tx+5 = phases 0–3 at tx, 0–1 at tx+1.
                let tileBase = (ty - ty0) * tilesW
                for k in 0..<6 {
                    let b = r + k * rowLength
                    for tx in stride(from: 0, to: tilesW, by: 8) {
                        let o = WinogradF43.input(load(b + tx), load(b + q + tx), load(b + 2 * q + tx),
                                                  load(b + 3 * q + tx), load(b + tx + 1), load(b + q + tx + 1))
                        let dst = v + k * 6 * vStride + c * leading + tileBase + tx
                        store6(o, dst, stride: vStride)
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
        var plane = y + (image * outputChannels + co) * outputHeight * outputWidth
        var (rowStep, columnStep, pitch) = (1, 1, outputWidth)
        if let il = interleave {
            let (phase, c) = co.quotientAndRemainder(dividingBy: il.channels)
            plane = y + ((image * il.channels + c) * il.height + il.starts[phase].row) * il.width + il.starts[phase].column
            (rowStep, columnStep, pitch) = (il.strideH, il.strideW, il.width)
        }
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
                    if interleave == nil && tx + 8 <= tilesW && 4 * (tx + 8) <= outputWidth && 4 * ty + 4 <= outputHeight {
                        // Eight whole tiles: four 4×4 transposes per row give contiguous stores.
                        for i in 0..<4 {
                            let dst = plane + (4 * ty + i) * outputWidth + 4 * tx
                            let (c0, c1, c2, c3) = (out[4 * i], out[4 * i + 1], out[4 * i + 2], out[4 * i + 3])
                            Self.storeTransposed(c0.lowHalf, c1.lowHalf, c2.lowHalf, c3.lowHalf, dst)
                            Self.storeTransposed(c0.highHalf, c1.highHalf, c2.highHalf, c3.highHalf, dst + 16)
                        }
                        continue
                    }
                    for lane in 0..<min(8, tilesW - tx) {
                        let col = 4 * (tx + lane)
                        let columns = min(4, outputWidth - col)
                        for i in 0..<4 {
                            let row = 4 * ty + i
                            guard row < outputHeight else { break }
                            let dst = plane + row * rowStep * pitch + col * columnStep
                            for j in 0..<columns { dst[j * columnStep] = out[4 * i + j][lane] }
                        }
                    }
                }
            }
        }
    }

    /// Splits one input row into four column phases, `out[p·length + k] = src[4k + p − padLeft]`,
    /// zero outside the row. The interior goes four columns of four at a time through a 4×4
    /// transpose; only the edges take the scalar path.
    private func splitPhases(_ src: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, length q: Int) {
        @inline(__always) func one(_ k: Int) {
            for phase in 0..<4 {
                let ww = 4 * k + phase - padLeft
                out[phase * q + k] = ww >= 0 && ww < width ? src[ww] : 0
            }
        }
        // k is interior when columns 4k − padLeft … 4k + 3 − padLeft are all in the row.
        let first = min(q, (padLeft + 3) / 4)
        let end = max(first, min(q, width + padLeft >= 4 ? (width + padLeft - 4) / 4 + 1 : 0))
        var k = 0
        while k < first { one(k); k += 1 }
        let base = src - padLeft
        while k + 4 <= end {
            let p = base + 4 * k
            let v0 = load4(p), v1 = load4(p + 4), v2 = load4(p + 8), v3 = load4(p + 12)
            store4(SIMD4(v0[0], v1[0], v2[0], v3[0]), out + k)
            store4(SIMD4(v0[1], v1[1], v2[1], v3[1]), out + q + k)
            store4(SIMD4(v0[2], v1[2], v2[2], v3[2]), out + 2 * q + k)
            store4(SIMD4(v0[3], v1[3], v2[3], v3[3]), out + 3 * q + k)
            k += 4
        }
        // Past column width − 1 + padLeft everything is padding: zeros, without the scalar path.
        let lastInside = min(q, (width + padLeft + 3) / 4)
        while k < lastInside { one(k); k += 1 }
        if k < q {
            for phase in 0..<4 { (out + phase * q + k).initialize(repeating: 0, count: q - k) }
        }
    }

    /// Writes `(a[t], b[t], c[t], d[t])` for t = 0…3 to 16 consecutive floats.
    @inline(__always)
    private static func storeTransposed(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ c: SIMD4<Float>, _ d: SIMD4<Float>,
                                        _ dst: UnsafeMutablePointer<Float>) {
        let raw = UnsafeMutableRawPointer(dst)
        raw.storeBytes(of: SIMD4(a[0], b[0], c[0], d[0]), as: SIMD4<Float>.self)
        raw.storeBytes(of: SIMD4(a[1], b[1], c[1], d[1]), toByteOffset: 16, as: SIMD4<Float>.self)
        raw.storeBytes(of: SIMD4(a[2], b[2], c[2], d[2]), toByteOffset: 32, as: SIMD4<Float>.self)
        raw.storeBytes(of: SIMD4(a[3], b[3], c[3], d[3]), toByteOffset: 48, as: SIMD4<Float>.self)
    }

    @inline(__always) private func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }

    @inline(__always) private func store4(_ value: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD4<Float>.self)
    }

    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V8 {
        UnsafeRawPointer(p).loadUnaligned(as: V8.self)
    }

    @inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> V8 {
        UnsafeRawPointer(p).loadUnaligned(as: V8.self)
    }

    /// Six transformed rows, `stride` floats apart: what every 1-D transform step writes.
    @inline(__always) func store6(_ o: (V8, V8, V8, V8, V8, V8), _ p: UnsafeMutablePointer<Float>, stride: Int) {
        store(o.0, p); store(o.1, p + stride); store(o.2, p + 2 * stride)
        store(o.3, p + 3 * stride); store(o.4, p + 4 * stride); store(o.5, p + 5 * stride)
    }

    @inline(__always) func store(_ value: V8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: V8.self)
    }
}
