import Engine
import Foundation
import Imaging

// The reference colorization model's tensors: its dataset turns an 8-bit RGB image into
// A = L/50 − 1 and B = ab/110 (skimage's rgb2lab, then float32); its `lab2rgb` turns an L and an
// ab tensor back into RGB with skimage's lab2rgb (clipped), ×255, and `tensor2im` truncates.

extension Tensor {
    /// The colorization dataset's pair of an RGB image (grey is repeated): A (1×1×H×W, L/50 − 1)
    /// and B (1×2×H×W, ab/110), computed in float32 from float32 Lab as the reference's torch
    /// code does. A 16-bit image is taken to 8 bits by its high byte (what Pillow's
    /// convert('RGB') does to a 16-bit RGB PNG; Pillow's 16-bit grey modes differ), unless
    /// `fullDepth` (conversion keeps all of its lightness).
    public static func colorizationPair(_ image: PlanarImage, fullDepth: Bool = false) throws -> (l: Tensor, ab: Tensor) {
        let rgb = image.adaptingChannels(to: 3)
        let n = rgb.width * rgb.height
        let eightBit = rgb.maxValue <= 255
        let deep = 1.0 / Double(rgb.maxValue)
        var l = [Float](repeating: 0, count: n), ab = [Float](repeating: 0, count: 2 * n)
        // skimage's img_as_float multiplies by the reciprocal.
        let scale = 1.0 / 255
        for i in 0..<n {
            func level(_ c: Int) -> Double {
                let v = Double(rgb.planes[c][i])
                if eightBit { return v * scale }
                return fullDepth ? v * deep : (v / 256).rounded(.down) * scale
            }
            let lab = CIELab.fromRGB(level(0), level(1), level(2))
            l[i] = Float(lab.l) / 50 - 1
            ab[i] = Float(lab.a) / 110
            ab[n + i] = Float(lab.b) / 110
        }
        return (try Tensor(shape: [1, 1, rgb.height, rgb.width], values: l),
                try Tensor(shape: [1, 2, rgb.height, rgb.width], values: ab))
    }

    /// The colorization model's `lab2rgb` of image `batchIndex`: L2 = (L + 1)·50 and AB2 = ab·110
    /// in float32, then skimage's lab2rgb in float64 (clipped to [0, 1]) — three planes of RGB in
    /// [0, 1], `l` being N×1×H×W and `ab` N×2×H×W of the same size.
    public static func labToRGB(l: Tensor, ab: Tensor, batchIndex: Int = 0, gamut: ColourGamut = .clip) throws -> [[Double]] {
        let (n, c, h, w) = l.nchw
        let (n2, c2, h2, w2) = ab.nchw
        guard c == 1, c2 == 2, n == n2, h == h2, w == w2, batchIndex < n else {
            throw EngineError(.shapeMismatch, "lab2rgb takes L (N×1×H×W) and ab (N×2×H×W) of one size; got \(l.shape) and \(ab.shape)")
        }
        let plane = h * w
        var out = [[Double]](repeating: [Double](repeating: 0, count: plane), count: 3)
        l.withUnsafeBufferPointer { lp in
            ab.withUnsafeBufferPointer { abp in
                let lBase = batchIndex * plane, abBase = batchIndex * 2 * plane
                for i in 0..<plane {
                    let l2 = Double((lp[lBase + i] + 1) * 50)
                    let a2 = Double(abp[abBase + i] * 110), b2 = Double(abp[abBase + plane + i] * 110)
                    let rgb = gamut == .clip ? CIELab.toRGB(l2, a2, b2) : CIELab.toRGBKeepingLightness(l2, a2, b2)
                    (out[0][i], out[1][i], out[2][i]) = (rgb.r, rgb.g, rgb.b)
                }
            }
        }
        return out
    }

    /// The colorization model's output image: `labToRGB` of the input's L (unpadded, 1×1×h×w)
    /// and `ab`'s `content` region, ×255 and truncated as `tensor2im` does, interleaved, with
    /// `alpha` (0…1 per pixel) and the ICC profile re-attached.
    public static func colorized(l: Tensor, ab: Tensor, batchIndex: Int = 0, content: (x: Int, y: Int, width: Int, height: Int),
                                 alpha: [Float]?, iccProfile: Data?, gamut: ColourGamut = .clip) throws -> EncodableImage {
        let (n, abChannels, h, w) = ab.nchw
        let c = content
        guard abChannels == 2, batchIndex < n, c.x >= 0, c.y >= 0, c.width > 0, c.height > 0, c.x + c.width <= w, c.y + c.height <= h else {
            throw EngineError(.shapeMismatch, "colorized: the region \(c) of image \(batchIndex) is not inside ab \(ab.shape)")
        }
        var crop = [Float](repeating: 0, count: 2 * c.width * c.height)
        ab.withUnsafeBufferPointer { p in
            for ch in 0..<2 {
                for y in 0..<c.height {
                    let src = ((batchIndex * 2 + ch) * h + c.y + y) * w + c.x
                    for x in 0..<c.width { crop[(ch * c.height + y) * c.width + x] = p[src + x] }
                }
            }
        }
        let planes = try labToRGB(l: l, ab: try Tensor(shape: [1, 2, c.height, c.width], values: crop), gamut: gamut)
        let channels = alpha == nil ? 3 : 4
        var samples = [UInt8](repeating: 0, count: channels * c.width * c.height)
        for i in 0..<(c.width * c.height) {
            for k in 0..<3 { samples[i * channels + k] = UInt8(planes[k][i] * 255) }
            if let alpha { samples[i * channels + 3] = UInt8((min(1, max(0, alpha[i])) * 255).rounded()) }
        }
        return EncodableImage(width: c.width, height: c.height, colorChannels: 3, hasAlpha: alpha != nil,
                              samples: samples, iccProfile: iccProfile)
    }

    /// RGB planes in [0, 1] as a 1×3×H×W tensor in [-1, 1] (for sample grids).
    public static func normalizedRGB(_ planes: [[Double]], width: Int, height: Int) throws -> Tensor {
        try Tensor(shape: [1, 3, height, width], values: planes.flatMap { $0.map { Float($0 * 2 - 1) } })
    }
}

/// How a colorization model's colours outside sRGB are made displayable.
public enum ColourGamut: String, Sendable, CaseIterable {
    /// Each RGB channel clipped to [0, 1], as skimage's lab2rgb and the reference do; a clipped
    /// colour's lightness can move.
    case clip
    /// a and b shrunk together until the colour fits: the input's L* is kept exactly (up to
    /// 8-bit rounding), only chroma is lost.
    case keepLightness = "keep-lightness"
}
