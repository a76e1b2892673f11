/// A strided transposed convolution whose phases all read inside one 3×3 window of the input —
/// the U-Net's 4×4 stride-2 pad-1 layers, whose four 2×2 phases read input rows m−1…m and m…m+1 —
/// computed as ONE 3×3 stride-1 convolution with `s²·cout` outputs (each phase's kernel placed at
/// its offsets in the window, zeros elsewhere) by Winograd F(4×4, 3×3), its channels then
/// interleaved into the output (a pixel shuffle) by the output transform itself.
///
/// Per input position and channel pair the direct phases multiply 4 × 4 = 16 times; F(4×4, 3×3)
/// on the fused kernel multiplies 36/16 × 4 = 9 times (1.78× fewer), and all four phases share
/// one input transform. (Winograd F(m×m, 2×2) per phase would need fewer still, 25/16 × 4 for
/// m = 4, but four input transforms and new transforms to test.)
struct PhaseWinograd {
    let phased: PhasedTransposedConvolution
    /// The fused 3×3 convolution's padding.
    let geometry: ConvGeometry
    /// Window row (column) of each row (column) phase's first tap.
    let rowStart: [Int], columnStart: [Int]
    let inputChannels: Int, outputChannels: Int
    /// Outputs of every phase along each axis (all phases have the same number).
    let phaseHeight: Int, phaseWidth: Int

    /// nil unless every phase has the same output count along each axis and reads inside a
    /// 3×3 window with padding Winograd takes (0…2).
    init?(input: [Int], weight: [Int], geometry g: ConvGeometry) {
        guard let p = PhasedTransposedConvolution(input: input, weight: weight, geometry: g),
              let ph = Set(p.rows.map(\.outputs)).only, let pw = Set(p.columns.map(\.outputs)).only,
              let top = p.rows.map(\.padBefore).max(), let left = p.columns.map(\.padBefore).max()
        else { return nil }
        let bottom = ph - input[2] + 2 - top, right = pw - input[3] + 2 - left
        let rowStart = p.rows.map { top - $0.padBefore }, columnStart = p.columns.map { left - $0.padBefore }
        guard [top, left, bottom, right].allSatisfy({ (0...2).contains($0) }),
              zip(p.rows, rowStart).allSatisfy({ $1 + $0.taps.count <= 3 }),
              zip(p.columns, columnStart).allSatisfy({ $1 + $0.taps.count <= 3 })
        else { return nil }
        phased = p
        geometry = ConvGeometry(strideH: 1, strideW: 1, padTop: top, padLeft: left, padBottom: bottom, padRight: right)
        (self.rowStart, self.columnStart) = (rowStart, columnStart)
        (inputChannels, outputChannels, phaseHeight, phaseWidth) = (weight[0], weight[1], ph, pw)
    }

    var phaseCount: Int { phased.rows.count * phased.columns.count }

    /// Multiplications per input position and channel pair: the direct phases' taps…
    var directMultiplications: Double {
        Double(phased.rows.map(\.taps.count).reduce(0, +) * phased.columns.map(\.taps.count).reduce(0, +))
    }

    /// …and F(4×4, 3×3)'s 36 per 16 outputs on each of the fused convolution's phase channels.
    var winogradMultiplications: Double { 36.0 / 16.0 * Double(phaseCount) }

    /// Input tiles of the fused convolution: below a few rows of tiles the transforms and the
    /// s²-fold weights cost more than the multiplications saved.
    var tiles: Int { ((phaseHeight + 3) / 4) * ((phaseWidth + 3) / 4) }

    /// The fused convolution's weights `[s²·cout, cin, 3, 3]` from the transposed convolution's
    /// `[cin, cout, kh, kw]`; output channel `phase·cout + co`, phases row-major.
    func fusedWeights(_ weight: Tensor) throws -> Tensor {
        let (cin, cout, kh, kw) = (inputChannels, outputChannels, weight.shape[2], weight.shape[3])
        let w = try Tensor(zeros: [phaseCount * cout, cin, 3, 3])
        let src = weight.pointer, dst = w.mutablePointer
        for (ri, row) in phased.rows.enumerated() {
            for (ci, column) in phased.columns.enumerated() {
                let phase = ri * phased.columns.count + ci
                for co in 0..<cout {
                    for c in 0..<cin {
                        let from = src + (c * cout + co) * kh * kw, to = dst + ((phase * cout + co) * cin + c) * 9
                        for (i, y) in row.taps.enumerated() {
                            for (j, x) in column.taps.enumerated() {
                                to[(rowStart[ri] + i) * 3 + columnStart[ci] + j] = from[y * kw + x]
                            }
                        }
                    }
                }
            }
        }
        return w
    }

    /// The bias repeated for every phase.
    func fusedBias(_ bias: Tensor) throws -> Tensor {
        let b = try Tensor(uninitialized: [phaseCount * outputChannels])
        for phase in 0..<phaseCount {
            for co in 0..<outputChannels { b.mutablePointer[phase * outputChannels + co] = bias.pointer[co] }
        }
        return b
    }

    /// Where the fused convolution's channels and pixels land in the `[n, cout, H, W]` output.
    func interleave(height: Int, width: Int) -> WinogradConvolution.Interleave {
        .init(channels: outputChannels, strideH: phased.stride.h, strideW: phased.stride.w,
              starts: phased.rows.flatMap { r in phased.columns.map { (r.start, $0.start) } }, height: height, width: width)
    }

    /// A Winograd convolution over `input` that writes the transposed convolution's output.
    func convolution(input: [Int], output: [Int], blockBytes: Int) -> WinogradConvolution {
        var conv = WinogradConvolution(input: input, outputChannels: phaseCount * outputChannels, geometry: geometry,
                                       blockBytes: blockBytes)
        conv.interleave = interleave(height: output[2], width: output[3])
        return conv
    }
}

private extension Set {
    /// The element of a one-element set.
    var only: Element? { count == 1 ? first : nil }
}
