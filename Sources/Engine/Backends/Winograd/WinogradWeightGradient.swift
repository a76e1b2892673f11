import CDNNL

extension WinogradConvolution {
    /// The weight gradient `[cout, cin, 3, 3]` of this convolution (and the bias gradient when
    /// `gradBias` is given) from its input `x` and output gradient `gy`, by the same tiles:
    /// `V = Bᵀ d B` of the input as in the forward pass, `A dY Aᵀ` of the output gradient, and
    /// per coordinate ξ the GEMM `dU_ξ += (A dY Aᵀ)_ξ V_ξᵀ` over all tiles (K = tiles), then
    /// `Gᵀ dU G` per kernel.
    func weightGradient(x: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>,
                        into gw: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) throws {
        guard batch > 0 else {
            // No tiles at all: nothing would initialise dU.
            gw.initialize(repeating: 0, count: outputChannels * inputChannels * 9)
            gradBias?.initialize(repeating: 0, count: outputChannels)
            return
        }
        let v = try AlignedBuffer(byteCount: WinogradF43.coordinates * inputChannels * leading * 4)
        let m = try AlignedBuffer(byteCount: WinogradF43.coordinates * outputChannels * leading * 4)
        let du = try AlignedBuffer(byteCount: WinogradF43.coordinates * outputChannels * inputChannels * 4)
        let vp = v.pointer.bindMemory(to: Float.self, capacity: v.byteCount / 4)
        let mp = m.pointer.bindMemory(to: Float.self, capacity: m.byteCount / 4)
        let dup = du.pointer.bindMemory(to: Float.self, capacity: du.byteCount / 4)
        var first = true
        for image in 0..<batch {
            for ty0 in stride(from: 0, to: tilesH, by: rowsPerBlock) {
                let rows = min(rowsPerBlock, tilesH - ty0)
                let tiles = rows * tilesW
                parallelFor(inputChannels, elementsPerItem: tiles * 100) { c in
                    transformInput(x, image: image, channel: c, ty0: ty0, rows: rows, into: vp)
                }
                parallelFor(outputChannels, elementsPerItem: tiles * 100) { co in
                    transformGradient(gy, image: image, channel: co, ty0: ty0, rows: rows, into: mp)
                }
                let beta: Float = first ? 0 : 1
                var statuses = [dnnl_status_t](repeating: dnnl_success, count: WinogradF43.coordinates)
                statuses.withUnsafeMutableBufferPointer { status in
                    parallelFor(WinogradF43.coordinates, elementsPerItem: 1 << 20) { xi in
                        status[xi] = DNNLRuntime.sgemm(
                            transposeB: true, m: outputChannels, n: inputChannels, k: tiles,
                            a: mp + xi * outputChannels * leading, lda: leading,
                            b: vp + xi * inputChannels * leading, ldb: leading, beta: beta,
                            c: dup + xi * outputChannels * inputChannels, ldc: inputChannels)
                    }
                }
                try DNNLRuntime.check(statuses.first { $0 != dnnl_success } ?? dnnl_success,
                                      "run the Winograd weight-gradient GEMMs")
                first = false
            }
        }
        WinogradF43.gradientWeights(dup, cout: outputChannels, cin: inputChannels, into: gw)
        if let gradBias {
            let plane = outputHeight * outputWidth
            parallelFor(outputChannels, elementsPerItem: batch * plane) { co in
                var sum: Double = 0
                for image in 0..<batch {
                    let p = gy + (image * outputChannels + co) * plane
                    var partial = V8.zero
                    var i = 0
                    while i + 8 <= plane { partial += load(p + i); i += 8 }
                    sum += Double(partial.sum())
                    while i < plane { sum += Double(p[i]); i += 1 }
                }
                gradBias[co] = Float(sum)
            }
        }
        withExtendedLifetime((v, m, du)) {}
    }

    /// `A dY Aᵀ` for every tile of one output channel's gradient in the block, written to
    /// `M[ξ][co][t]`. Output tiles do not overlap, so splitting each row into four column phases
    /// gives each tile's four columns as four contiguous vectors; rows and columns past the
    /// output's edge read as zero.
    private func transformGradient(_ gy: UnsafePointer<Float>, image: Int, channel co: Int, ty0: Int, rows: Int,
                                   into m: UnsafeMutablePointer<Float>) {
        let q = (tilesW + 7) / 8 * 8, rowLength = 4 * q
        let plane = gy + (image * outputChannels + co) * outputHeight * outputWidth
        let mStride = outputChannels * leading
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 10 * rowLength) { scratch in
            let p = scratch.baseAddress!, r = p + 4 * rowLength
            for ty in ty0..<(ty0 + rows) {
                for i in 0..<4 {
                    let dst = p + i * rowLength
                    let row = 4 * ty + i
                    guard row < outputHeight else {
                        dst.initialize(repeating: 0, count: rowLength)
                        continue
                    }
                    let src = plane + row * outputWidth
                    for phase in 0..<4 {
                        let out = dst + phase * q
                        let end = min(q, max(0, (outputWidth - phase + 3) / 4))
                        var s = src + phase
                        for k in 0..<end {
                            out[k] = s.pointee
                            s += 4
                        }
                        (out + end).initialize(repeating: 0, count: q - end)
                    }
                }
                // Along the columns: R_k = Σ_i A[k][i] dY_i, all phases at once.
                for i in stride(from: 0, to: rowLength, by: 8) {
                    let o = WinogradF43.gradientOutput(load(p + i), load(p + rowLength + i), load(p + 2 * rowLength + i),
                                                       load(p + 3 * rowLength + i))
                    store6(o, r + i, stride: rowLength)
                }
                // Along the rows: tile tx's four columns are the four phases at tx.
                let tileBase = (ty - ty0) * tilesW
                for k in 0..<6 {
                    let b = r + k * rowLength
                    for tx in stride(from: 0, to: tilesW, by: 8) {
                        let o = WinogradF43.gradientOutput(load(b + tx), load(b + q + tx), load(b + 2 * q + tx), load(b + 3 * q + tx))
                        let dst = m + k * 6 * mStride + co * leading + tileBase + tx
                        store6(o, dst, stride: mStride)
                    }
                }
            }
        }
    }
}
