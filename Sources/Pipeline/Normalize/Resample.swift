import Foundation

/// Bicubic resampling equivalent to PIL's `Image.resize(size, Image.BICUBIC)`, which the
/// reference preprocessing uses: separable (horizontal pass, then vertical), Keys cubic with
/// a = -0.5, and the kernel widened by the scale factor when shrinking, so downscaling is
/// antialiased. On 8-bit data each pass uses PIL's 22-bit fixed-point coefficients and rounds and
/// clips to 0…255 as its uint8 path does, so results match PIL exactly — PIL up to version 12.
/// Pillow 13 runs the vertical pass first when the height shrinks by more than twice what the
/// width changes (see Tests/Fixtures/resize/README.md); those cases differ from it by ±1 level.
public enum Resampler {
    /// PIL's resampling filters that Gantry's preprocessing needs.
    public enum Filter: Sendable {
        /// `Image.BICUBIC` (Keys, a = −0.5, support 2): the reference's resize.
        case bicubic
        /// `Image.BILINEAR` (triangle, support 1): torchvision's default `Resize`, which StarGAN's
        /// data loader uses.
        case bilinear

        var support: Double { self == .bicubic ? 2 : 1 }

        func weight(_ x: Double) -> Double {
            switch self {
            case .bicubic: Resampler.cubic(x)
            case .bilinear: max(0, 1 - abs(x))
            }
        }
    }

    public static func resize(_ image: PlanarImage, width: Int, height: Int, filter: Filter = .bicubic) -> PlanarImage {
        precondition(width > 0 && height > 0, "cannot resize to \(width)×\(height)")
        var out = image
        let roundTo8Bit = image.maxValue == 255
        if width != image.width {
            let k = coefficients(inSize: image.width, outSize: width, filter: filter)
            out = out.mapPlanes(width: width, height: out.height) { plane in
                pass(plane, k, lines: image.height, inLength: image.width, outLength: width, horizontal: true, round: roundTo8Bit)
            }
        }
        if height != image.height {
            let k = coefficients(inSize: image.height, outSize: height, filter: filter)
            let w = out.width
            out = out.mapPlanes(width: w, height: height) { plane in
                pass(plane, k, lines: w, inLength: image.height, outLength: height, horizontal: false, round: roundTo8Bit)
            }
        }
        return out
    }

    /// For each output position: the first input index and the normalised weights.
    struct Kernel {
        var start: [Int]
        var weights: [[Float]]
        /// The weights in PIL's fixed point (PRECISION_BITS = 22), for 8-bit data.
        var fixed: [[Int64]]
    }

    static let precisionBits = 22

    static func cubic(_ x: Double) -> Double {
        let a = -0.5, x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    static func coefficients(inSize: Int, outSize: Int, filter: Filter = .bicubic) -> Kernel {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        var start: [Int] = [], weights: [[Float]] = [], fixed: [[Int64]] = []
        for o in 0..<outSize {
            let center = (Double(o) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            var w = (lo..<hi).map { filter.weight((Double($0) - center + 0.5) / filterScale) }
            let total = w.reduce(0, +)
            if total != 0 { w = w.map { $0 / total } }
            start.append(lo)
            weights.append(w.map(Float.init))
            let one = Double(1 << precisionBits)
            fixed.append(w.map { $0 < 0 ? Int64(-0.5 + $0 * one) : Int64(0.5 + $0 * one) })
        }
        return Kernel(start: start, weights: weights, fixed: fixed)
    }

    private static func pass(_ plane: [Float], _ k: Kernel, lines: Int, inLength: Int, outLength: Int,
                             horizontal: Bool, round: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: lines * outLength)
        plane.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for line in 0..<lines {
                    for o in 0..<outLength {
                        let s = k.start[o]
                        let at = { (j: Int) in src[horizontal ? line * inLength + s + j : (s + j) * lines + line] }
                        let value: Float
                        if round {
                            var acc = Int64(1) << (precisionBits - 1)
                            for (j, w) in k.fixed[o].enumerated() { acc += w * Int64(at(j)) }
                            value = Float(min(max(acc >> precisionBits, 0), 255))
                        } else {
                            var acc: Float = 0
                            for (j, w) in k.weights[o].enumerated() { acc += w * at(j) }
                            value = acc
                        }
                        dst[horizontal ? line * outLength + o : o * lines + line] = value
                    }
                }
            }
        }
        return out
    }
}
