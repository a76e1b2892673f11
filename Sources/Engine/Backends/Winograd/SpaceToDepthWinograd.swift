/// A strided convolution whose taps, once the input is split into its s² polyphase components
/// (space to depth: channel `(φh·s + φw)·cin + c` holds `x[c][s·j + φh][s·q + φw]`), all fall
/// inside one 3×3 window of that grid — the U-Net's 4×4 stride-2 pad-1 down-sampling, whose taps
/// 0…3 read components 1, 0, 1, 0 at offsets −1, 0, 0, +1 — computed as ONE 3×3 stride-1
/// convolution over `s²·cin` channels by Winograd F(4×4, 3×3). Per output and channel pair that
/// is 36/16 × 4 = 9 multiplications against the direct kernel's 16.
struct SpaceToDepthWinograd {
    let stride: (h: Int, w: Int)
    /// Per kernel row (column): its component φ and its window row (column), 0…2.
    let rowTaps: [(phase: Int, window: Int)], columnTaps: [(phase: Int, window: Int)]
    /// The 3×3 convolution's padding over the component grid.
    let geometry: ConvGeometry
    /// Rows and columns of the component grid (as many as the outputs read).
    let gridHeight: Int, gridWidth: Int
    let inputChannels: Int, outputChannels: Int
    let outputHeight: Int, outputWidth: Int

    /// nil unless the stride is above 1 along some axis and every axis's taps fit a 3×3 window.
    init?(input: [Int], weight: [Int], geometry g: ConvGeometry) {
        guard input.count == 4, weight.count == 4, input[1] == weight[1], g.strideH > 1 || g.strideW > 1,
              g.outputPaddingH == 0, g.outputPaddingW == 0 else { return nil }
        let out = g.convOutput(h: input[2], w: input[3], kh: weight[2], kw: weight[3])
        guard out.h > 0, out.w > 0,
              let rows = Self.axis(kernel: weight[2], stride: g.strideH, pad: g.padTop, outputs: out.h),
              let columns = Self.axis(kernel: weight[3], stride: g.strideW, pad: g.padLeft, outputs: out.w)
        else { return nil }
        stride = (g.strideH, g.strideW)
        (rowTaps, columnTaps) = (rows.taps, columns.taps)
        geometry = ConvGeometry(strideH: 1, strideW: 1, padTop: rows.padBefore, padLeft: columns.padBefore,
                                padBottom: rows.padAfter, padRight: columns.padAfter)
        (gridHeight, gridWidth) = (rows.grid, columns.grid)
        (inputChannels, outputChannels) = (weight[1], weight[0])
        (outputHeight, outputWidth) = out
    }

    /// Output i reads input `s·i − p + k` = component `(k − p) mod s` at grid offset
    /// `⌊(k − p)/s⌋`; the grid holds the rows up to the last output's last offset.
    static func axis(kernel k: Int, stride s: Int, pad p: Int, outputs: Int)
        -> (taps: [(phase: Int, window: Int)], padBefore: Int, padAfter: Int, grid: Int)? {
        func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        let offsets = (0..<k).map { floorDiv($0 - p, s) }
        guard let low = offsets.min(), let high = offsets.max(), high - low < 3, low <= 0, low >= -2 else { return nil }
        let taps = (0..<k).map { ((($0 - p) % s + s) % s, offsets[$0] - low) }
        return (taps, -low, 3 - (high - low + 1), outputs + high)
    }

    var phaseCount: Int { stride.h * stride.w }

    /// Input tiles of the 3×3 convolution (the output's 4×4 tiles).
    var tiles: Int { ((outputHeight + 3) / 4) * ((outputWidth + 3) / 4) }

    /// Multiplications per output and channel pair: the direct kernel's taps, and F(4×4, 3×3)'s
    /// 36 per 16 outputs on each of the s² components.
    var directMultiplications: Double { Double(rowTaps.count * columnTaps.count) }
    var winogradMultiplications: Double { 36.0 / 16.0 * Double(phaseCount) }

    /// The fused weights `[cout, s²·cin, 3, 3]` from the convolution's `[cout, cin, kh, kw]`.
    func fusedWeights(_ weight: Tensor) throws -> Tensor {
        let (cin, cout, kh, kw) = (inputChannels, outputChannels, weight.shape[2], weight.shape[3])
        let w = try Tensor(zeros: [cout, phaseCount * cin, 3, 3])
        let src = weight.pointer, dst = w.mutablePointer
        for co in 0..<cout {
            for c in 0..<cin {
                let from = src + (co * cin + c) * kh * kw
                for (y, row) in rowTaps.enumerated() {
                    for (x, column) in columnTaps.enumerated() {
                        let channel = (row.phase * stride.w + column.phase) * cin + c
                        dst[((co * phaseCount * cin + channel) * 3 + row.window) * 3 + column.window] = from[y * kw + x]
                    }
                }
            }
        }
        return w
    }

    /// The component grid `[n, s²·cin, gridHeight, gridWidth]` of `x` (zeros past its edges).
    func components(_ x: Tensor) throws -> Tensor {
        let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (gh, gw, s) = (gridHeight, gridWidth, stride)
        let grid = try Tensor(uninitialized: [batch, phaseCount * cin, gh, gw])
        let src = x.pointer, dst = grid.mutablePointer
        parallelFor(batch * phaseCount * cin, elementsPerItem: gh * gw) { plane in
            let (n, rest) = plane.quotientAndRemainder(dividingBy: phaseCount * cin)
            let (phase, c) = rest.quotientAndRemainder(dividingBy: cin)
            let (ph, pw) = phase.quotientAndRemainder(dividingBy: s.w)
            let from = src + (n * cin + c) * h * w, to = dst + plane * gh * gw
            for j in 0..<gh {
                let row = s.h * j + ph, out = to + j * gw
                guard row < h else { (0..<gw).forEach { out[$0] = 0 }; continue }
                let line = from + row * w
                for q in 0..<gw {
                    let column = s.w * q + pw
                    out[q] = column < w ? line[column] : 0
                }
            }
        }
        return grid
    }
}
