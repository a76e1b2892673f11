/// Plain-loop versions of the elementwise ops, written for obviousness rather than speed, that
/// tests compare the optimised ops against.
public enum ReferenceOps {
    /// Normalisation with statistics over `perInstance` (H×W of each image) or per channel (N×H×W).
    public static func normalize(_ x: Tensor, perInstance: Bool, weight: [Float]?, bias: [Float]?,
                                 epsilon: Double = 1e-5) throws -> Tensor {
        let (n, c, h, w) = x.nchw
        let v = x.values
        var out = [Float](repeating: 0, count: v.count)
        for ch in 0..<c {
            let images = perInstance ? (0..<n).map { [$0] } : [Array(0..<n)]
            for group in images {
                var values: [Double] = []
                for b in group { for i in 0..<(h * w) { values.append(Double(v[(b * c + ch) * h * w + i])) } }
                let mean = values.reduce(0, +) / Double(values.count)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
                for b in group {
                    for i in 0..<(h * w) {
                        let idx = (b * c + ch) * h * w + i
                        let normed = (Double(v[idx]) - mean) / (variance + epsilon).squareRoot()
                        out[idx] = Float(normed * Double(weight?[ch] ?? 1) + Double(bias?[ch] ?? 0))
                    }
                }
            }
        }
        return try Tensor(shape: x.shape, values: out)
    }

    /// Padding by explicit index arithmetic.
    public static func pad(_ x: Tensor, _ p: Int, mode: PaddingMode) throws -> Tensor {
        let (n, c, h, w) = x.nchw
        let v = x.values
        var out: [Float] = []
        for plane in 0..<(n * c) {
            for oy in 0..<(h + 2 * p) {
                for ox in 0..<(w + 2 * p) {
                    var (iy, ix) = (oy - p, ox - p)
                    switch mode {
                    case .zero:
                        if iy < 0 || iy >= h || ix < 0 || ix >= w { out.append(0); continue }
                    case .replicate:
                        iy = min(max(iy, 0), h - 1); ix = min(max(ix, 0), w - 1)
                    case .reflect:
                        iy = iy < 0 ? -iy : (iy >= h ? 2 * h - 2 - iy : iy)
                        ix = ix < 0 ? -ix : (ix >= w ? 2 * w - 2 - ix : ix)
                    }
                    out.append(v[(plane * h + iy) * w + ix])
                }
            }
        }
        return try Tensor(shape: [n, c, h + 2 * p, w + 2 * p], values: out)
    }
}
