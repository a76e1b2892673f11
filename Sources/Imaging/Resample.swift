import Foundation

/// Bicubic resampling equivalent to PIL's `Image.resize(size, Image.BICUBIC)`, which the
/// reference preprocessing uses: separable, Keys cubic with a = -0.5, and the kernel widened by
/// the scale factor when shrinking, so downscaling is antialiased. On 8-bit data each pass uses
/// PIL's 22-bit fixed-point coefficients and rounds and clips to 0…255 as its uint8 path does, in
/// Pillow 13's pass order, so results match Pillow 13 exactly (Pillow ≤ 12 always ran the
/// horizontal pass first: where the order differs, results differ from it by up to 11 levels on
/// noise; see Tests/Fixtures/resize/README.md). 16-bit data is resampled in float, unrounded.
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
        let roundTo8Bit = image.maxValue == 255
        func horizontal(_ x: PlanarImage) -> PlanarImage {
            guard width != x.width else { return x }
            let k = coefficients(inSize: x.width, outSize: width, filter: filter)
            return x.mapPlanes(width: width, height: x.height) { plane in
                pass(plane, k, lines: x.height, inLength: x.width, outLength: width, horizontal: true, round: roundTo8Bit)
            }
        }
        func vertical(_ x: PlanarImage) -> PlanarImage {
            guard height != x.height else { return x }
            let k = coefficients(inSize: x.height, outSize: height, filter: filter)
            return x.mapPlanes(width: x.width, height: height) { plane in
                pass(plane, k, lines: x.width, inLength: x.height, outLength: height, horizontal: false, round: roundTo8Bit)
            }
        }
        /// PIL clips between its passes (its 8-bit path rounds too, inside `pass`); without that a
        /// sharp edge upscaled overshoots in the first pass and the second carries it on (up to 15
        /// levels on noise).
        func clipped(_ x: PlanarImage) -> PlanarImage {
            guard !roundTo8Bit, width != image.width, height != image.height else { return x }
            let top = image.maxValue
            return x.mapPlanes(width: x.width, height: x.height) { $0.map { min(max($0, 0), top) } }
        }
        // Pillow 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height shrinks
        // by more than twice the pixels the width loses. Rounding between passes makes the order
        // visible on 8-bit data (up to 11 levels on noise); float data keeps PIL's usual order.
        let verticalFirst = roundTo8Bit && width != image.width && height < image.height
            && image.height - height > 2 * (image.width - width)
        return verticalFirst ? horizontal(clipped(vertical(image))) : vertical(clipped(horizontal(image)))
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
