import Foundation

/// CIE L*a*b* as scikit-image's `rgb2lab` and `lab2rgb` compute it (sRGB, illuminant D65, 2°
/// observer), which is what the reference's colorization model trains and tests with.
///
/// Every constant is skimage's own, rounded as it rounds them (0.008856 rather than (6/29)³,
/// the sRGB matrix whose rows do not quite sum to the white point, the inverse scipy computes),
/// so the float64 results match skimage's to rounding: `CIELabTests` checks a dense grid of
/// both directions against values skimage wrote (tools/fixtures/make_lab_fixtures.py).
public enum CIELab {
    /// The reference white of D65 for the 2° observer.
    static let white = (x: 0.95047, y: 1.0, z: 1.08883)

    /// XYZ from linear sRGB (skimage's `xyz_from_rgb`).
    static let xyzFromRGB: [Double] = [0.412453, 0.357580, 0.180423,
                                       0.212671, 0.715160, 0.072169,
                                       0.019334, 0.119193, 0.950227]

    /// Linear sRGB from XYZ: skimage's `rgb_from_xyz`, `scipy.linalg.inv(xyz_from_rgb)` as it
    /// computes it (printed by make_lab_fixtures.py).
    static let rgbFromXYZ: [Double] = [3.2404813432005266, -1.5371515162713183, -0.4985363261688878,
                                       -0.9692549499965682, 1.8759900014898907, 0.04155592655829284,
                                       0.055646639135177166, -0.20404133836651123, 1.0573110696453443]

    /// L (0…100), a and b of an sRGB colour with components in [0, 1] (a uint8 value v is v/255).
    public static func fromRGB(_ r: Double, _ g: Double, _ b: Double) -> (l: Double, a: Double, b: Double) {
        func linear(_ c: Double) -> Double { c > 0.04045 ? Foundation.pow((c + 0.055) / 1.055, 2.4) : c / 12.92 }
        let (lr, lg, lb) = (linear(r), linear(g), linear(b))
        let m = xyzFromRGB
        let x = (m[0] * lr + m[1] * lg + m[2] * lb) / white.x
        let y = (m[3] * lr + m[4] * lg + m[5] * lb) / white.y
        let z = (m[6] * lr + m[7] * lg + m[8] * lb) / white.z
        func f(_ t: Double) -> Double { t > 0.008856 ? Foundation.cbrt(t) : 7.787 * t + 16.0 / 116.0 }
        let (fx, fy, fz) = (f(x), f(y), f(z))
        return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    }

    /// The sRGB colour of L, a, b, each component clipped to [0, 1] as skimage clips (a colour
    /// outside sRGB comes back as the nearest one per channel; a negative Z is taken as 0).
    public static func toRGB(_ l: Double, _ a: Double, _ b: Double) -> (r: Double, g: Double, b: Double) {
        let v = linearRGB(l, a, b)
        return (encode(v.r), encode(v.g), encode(v.b))
    }

    /// The sRGB colour of L, a, b brought into sRGB by shrinking a and b together (same L and
    /// hue, less chroma) until no channel leaves [0, 1], so L* is kept where clipping each channel
    /// would change it; colours inside sRGB come out as `toRGB` gives them.
    public static func toRGBKeepingLightness(_ l: Double, _ a: Double, _ b: Double) -> (r: Double, g: Double, b: Double) {
        guard a.isFinite, b.isFinite else { return toRGB(l, 0, 0) }
        func inside(_ v: (r: Double, g: Double, b: Double)) -> Bool {
            // skimage's matrix maps white to (1.0000075, 0.99999, 1.0000811), not exactly 1: a
            // colour this close to the top is inside, and encode's clip costs it < 0.01 L*.
            // Black is exact, and near it L* is steep: no slack below 0.
            let (low, high) = (-1e-12, 1 + 1e-4)
            return v.r >= low && v.r <= high && v.g >= low && v.g <= high && v.b >= low && v.b <= high
        }
        if inside(linearRGB(l, a, b)) { return toRGB(l, a, b) }
        // Grey (a = b = 0) is inside for any L in [0, 100] (within e): search the largest scale that fits.
        var (low, high) = (0.0, 1.0)
        for _ in 0..<20 {
            let mid = (low + high) / 2
            if inside(linearRGB(l, a * mid, b * mid)) { low = mid } else { high = mid }
        }
        return toRGB(l, a * low, b * low)
    }

    /// Linear-light sRGB of L, a, b, unclipped (skimage's lab2xyz then xyz2rgb's matrix).
    static func linearRGB(_ l: Double, _ a: Double, _ b: Double) -> (r: Double, g: Double, b: Double) {
        let fy = (l + 16) / 116
        let fx = a / 500 + fy
        let fz = max(0, fy - b / 200)
        func inverse(_ v: Double) -> Double { v > 0.2068966 ? Foundation.pow(v, 3) : (v - 16.0 / 116.0) / 7.787 }
        let (x, y, z) = (inverse(fx) * white.x, inverse(fy) * white.y, inverse(fz) * white.z)
        let m = rgbFromXYZ
        return (m[0] * x + m[1] * y + m[2] * z, m[3] * x + m[4] * y + m[5] * z, m[6] * x + m[7] * y + m[8] * z)
    }

    /// sRGB's transfer function, clipped to [0, 1].
    static func encode(_ v: Double) -> Double {
        let c = v > 0.0031308 ? 1.055 * Foundation.pow(v, 1 / 2.4) - 0.055 : 12.92 * v
        return min(1, max(0, c))
    }
}
