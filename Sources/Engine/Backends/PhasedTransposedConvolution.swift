/// A stride-s transposed convolution computed as s² ordinary stride-1 convolutions, one per
/// output phase, whose results are interleaved into the output.
///
/// Output row `o = s·m + r` of a transposed convolution only ever meets the kernel rows `kh` with
/// `kh ≡ r + p (mod s)`, each reading input row `m + (r + p − kh) / s`: a stride-1 correlation
/// with those rows, flipped. So the generators' 3×3 stride-2 up-sampling layers become a 1×1,
/// a 1×2, a 2×1 and a 2×2 convolution over the input grid with the same multiplications and
/// none of the zero-stuffing. oneDNN 2.6 ran resnet_9blocks' two 3×3 stride-2 deconvolutions at
/// 115–150 GFLOP/s against ~220 for its stride-1 and stride-2 convolutions (AVX2, 256²).
struct PhasedTransposedConvolution {
    /// The taps of one kernel axis that feed one output phase, in the forward convolution's order.
    struct Axis: Equatable {
        /// First output index of this phase (0 ≤ start < stride).
        var start: Int
        /// Kernel indices of the transposed convolution, tap by tap of the forward convolution.
        var taps: [Int]
        var padBefore: Int
        var padAfter: Int
        /// Outputs of this phase along the axis.
        var outputs: Int
    }

    let stride: (h: Int, w: Int)
    let rows: [Axis]
    let columns: [Axis]

    /// nil when some phase would need negative padding, has no taps or no outputs: those shapes
    /// stay on the library's transposed convolution.
    init?(input: [Int], weight: [Int], geometry g: ConvGeometry) {
        guard input.count == 4, weight.count == 4, g.strideH > 1 || g.strideW > 1 else { return nil }
        let out = g.transposedOutput(h: input[2], w: input[3], kh: weight[2], kw: weight[3])
        var rows: [Axis] = [], columns: [Axis] = []
        for r in 0..<g.strideH {
            guard let a = Self.axis(phase: r, stride: g.strideH, pad: g.padTop, kernel: weight[2], input: input[2], output: out.h)
            else { return nil }
            rows.append(a)
        }
        for r in 0..<g.strideW {
            guard let a = Self.axis(phase: r, stride: g.strideW, pad: g.padLeft, kernel: weight[3], input: input[3], output: out.w)
            else { return nil }
            columns.append(a)
        }
        stride = (g.strideH, g.strideW)
        self.rows = rows
        self.columns = columns
    }

    static func axis(phase r: Int, stride s: Int, pad p: Int, kernel k: Int, input n: Int, output o: Int) -> Axis? {
        // Kernel indices feeding this phase, by increasing input offset (r + p − kh) / s.
        let taps = (0..<k).reversed().filter { ((r + p - $0) % s + s) % s == 0 }
        let outputs = (o - r + s - 1) / s
        guard let last = taps.last, let first = taps.first, outputs > 0 else { return nil }
        let firstOffset = (r + p - first) / s, lastOffset = (r + p - last) / s
        let padBefore = -firstOffset
        let padAfter = (outputs - 1) + lastOffset - (n - 1)
        guard padBefore >= 0, padAfter >= 0, padBefore < taps.count, padAfter < taps.count else { return nil }
        return Axis(start: r, taps: taps, padBefore: padBefore, padAfter: padAfter, outputs: outputs)
    }

    /// Whether the split beats oneDNN's deconvolution, as measured: for 3×3 stride 2 the phases
    /// took 13.6 and 14.2 ms against 16.1 and 20.5 (resnet_9blocks at 256², AVX2), while for the
    /// U-Net's 4×4 stride 2, whose phases are all alike, oneDNN's own kernel is faster (10.5 ms
    /// against 14). So: when the kernel is not a multiple of the stride along some axis.
    var paysOff: Bool {
        rows.count * columns.count > 1
            && (Set(rows.map(\.taps.count)).count > 1 || Set(columns.map(\.taps.count)).count > 1)
    }

    /// Every (row phase, column phase) pair.
    var phases: [(row: Axis, column: Axis)] {
        rows.flatMap { r in columns.map { (r, $0) } }
    }

    static func geometry(_ row: Axis, _ column: Axis) -> ConvGeometry {
        ConvGeometry(strideH: 1, strideW: 1, padTop: row.padBefore, padLeft: column.padBefore,
                     padBottom: row.padAfter, padRight: column.padAfter)
    }

    /// The forward-convolution weights `[cout, cin, taps, taps]` of one phase, from the
    /// transposed convolution's `[cin, cout, kh, kw]`.
    static func phaseWeights(_ weight: Tensor, row: Axis, column: Axis) throws -> Tensor {
        let (cin, cout, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (th, tw) = (row.taps.count, column.taps.count)
        let w = try Tensor(uninitialized: [cout, cin, th, tw])
        let src = weight.pointer, dst = w.mutablePointer
        for co in 0..<cout {
            for ci in 0..<cin {
                let from = src + (ci * cout + co) * kh * kw, to = dst + (co * cin + ci) * th * tw
                for (i, y) in row.taps.enumerated() {
                    for (j, x) in column.taps.enumerated() { to[i * tw + j] = from[y * kw + x] }
                }
            }
        }
        return w
    }

    /// Writes one phase's output `[n, c, rows.outputs, columns.outputs]` into its positions of `y`.
    func scatter(_ phase: Tensor, row: Axis, column: Axis, into y: Tensor) {
        let (planes, ph, pw) = (phase.shape[0] * phase.shape[1], phase.shape[2], phase.shape[3])
        let (yh, yw) = (y.shape[2], y.shape[3])
        let src = phase.pointer, dst = y.mutablePointer
        let (sh, sw) = stride
        parallelFor(planes, elementsPerItem: ph * pw) { plane in
            for m in 0..<ph {
                let from = src + (plane * ph + m) * pw
                let to = dst + (plane * yh + m * sh + row.start) * yw + column.start
                for q in 0..<pw { to[q * sw] = from[q] }
            }
        }
    }
}

/// Phase weights per transposed-convolution weight tensor, rebuilt when its version changes.
final class PhaseWeightCache {
    private final class Entry {
        weak var storage: TensorStorage?
        let version: Int
        let shape: [Int]
        let weights: [Tensor]

        init(storage: TensorStorage, version: Int, shape: [Int], weights: [Tensor]) {
            self.storage = storage
            self.version = version
            self.shape = shape
            self.weights = weights
        }
    }

    private var entries: [ObjectIdentifier: Entry] = [:]

    /// Callers hold the backend's lock.
    func weights(for weight: Tensor, _ conv: PhasedTransposedConvolution) throws -> [Tensor] {
        let key = ObjectIdentifier(weight.storage)
        if let hit = entries[key], hit.storage === weight.storage, hit.version == weight.storage.version,
           hit.shape == weight.shape {
            return hit.weights
        }
        let weights = try conv.phases.map { try PhasedTransposedConvolution.phaseWeights(weight, row: $0.row, column: $0.column) }
        entries = entries.filter { $0.value.storage != nil }
        entries[key] = Entry(storage: weight.storage, version: weight.storage.version, shape: weight.shape, weights: weights)
        return weights
    }

    func removeAll() { entries.removeAll() }
}
