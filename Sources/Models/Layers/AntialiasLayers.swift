import Engine

/// The anti-aliased resampling layers of CUT (taesungp/contrastive-unpaired-translation,
/// `models/networks.py`, after Zhang's "Making Convolutional Networks Shift-Invariant Again"):
/// a fixed binomial filter per channel, stored in the checkpoint as the buffer `filt`
/// (C×1×k×k), which is what runs: a file's own filter is used as PyTorch would use it.
enum BinomialFilter {
    /// `get_filter(k)`: the outer product of a binomial row, normalised to sum 1.
    static func values(size k: Int) -> [Float] {
        var row: [Double] = [1]
        for _ in 1..<max(1, k) { row = zip(row + [0], [0] + row).map { $0 + $1 } }
        let total = row.reduce(0, +) * row.reduce(0, +)
        return row.flatMap { a in row.map { b in Float(a * b / total) } }
    }

    /// The `filt` buffer for `channels` channels, scaled by `scale`.
    static func buffer(channels: Int, size: Int, scale: Float) throws -> Tensor {
        let one = values(size: size).map { $0 * scale }
        return try Tensor(shape: [channels, 1, size, size], values: Array((0..<channels).map { _ in one }.joined()))
    }
}

/// CUT's `Downsample(channels)`: reflection pad 1, then the 3×3 binomial blur [1,2,1]ᵀ[1,2,1]/16
/// with stride 2 on each channel. Output ⌈H/2⌉×⌈W/2⌉.
public final class BlurDownsample: Module {
    public static let filterSize = 3, stride = 2, padding = 1

    public init(channels: Int) throws {
        super.init()
        try register("filt", shape: [channels, 1, Self.filterSize, Self.filterSize], buffer: true)
        setTensor("filt", try BinomialFilter.buffer(channels: channels, size: Self.filterSize, scale: 1))
    }

    var filter: Tensor { tensor("filt")! }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        let p = Self.padding
        return try depthwiseConv2d(try pad2d(x, top: p, bottom: p, left: p, right: p, mode: .reflect),
                                   filter: filter, stride: Self.stride)
    }
}

/// CUT's `Upsample(channels)`: replicate pad 1, the 4×4 binomial [1,3,3,1]ᵀ[1,3,3,1]/64 × 4 as a
/// transposed filter with stride 2 and padding 2, then one row and column cropped at each end,
/// which is padding 3 without the crop. Output exactly 2H×2W: bilinear ×2 (half-pixel centres,
/// edges clamped) for the default filter.
public final class BlurUpsample: Module {
    public static let filterSize = 4, stride = 2, edge = 1
    /// `1 + (k − 1) / 2` of the reference plus the cropped row.
    public static let padding = 3

    public init(channels: Int) throws {
        super.init()
        try register("filt", shape: [channels, 1, Self.filterSize, Self.filterSize], buffer: true)
        setTensor("filt", try BinomialFilter.buffer(channels: channels, size: Self.filterSize,
                                                    scale: Float(Self.stride * Self.stride)))
    }

    var filter: Tensor { tensor("filt")! }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        let e = Self.edge
        return try depthwiseConvTranspose2d(try pad2d(x, top: e, bottom: e, left: e, right: e, mode: .replicate),
                                            filter: filter, stride: Self.stride, padding: Self.padding)
    }
}
