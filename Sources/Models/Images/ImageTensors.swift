import Engine
import Foundation
import Imaging

// The one place images become network tensors and back: the reference's `ToTensor` +
// `Normalize(0.5, 0.5)` on the way in, `tensor2im` / `save_image` on the way out. Conversion,
// training data and sample grids all go through here.

/// How [-1, 1] becomes 0…255. pix2pix/CycleGAN's `tensor2im` truncates (`uint8((y + 1) / 2 · 255)`);
/// StarGAN's and DCGAN's `save_image` rounds.
public enum Quantization: Sendable {
    case truncate, round

    /// The rule of the reference that trains `family`.
    public init(for family: GeneratorArchitecture.Family) {
        self = family == .stargan ? .round : .truncate
    }
}

extension Tensor {
    /// `ToTensor` + `Normalize(0.5, 0.5)`: a 1×C×H×W tensor in [-1, 1] with `channels` planes
    /// (grey to colour repeats the plane; colour to grey is PIL's 'L').
    public init(normalizing image: PlanarImage, channels: Int) throws {
        let planar = image.adaptingChannels(to: channels)
        let scale = 2 / planar.maxValue
        var values = [Float]()
        values.reserveCapacity(channels * planar.width * planar.height)
        for p in planar.planes { values += p.map { $0 * scale - 1 } }
        try self.init(shape: [1, channels, planar.height, planar.width], values: values)
    }

    /// Image `batchIndex` of an N×C×H×W tensor in [-1, 1] as 8-bit samples (and 16-bit ones too
    /// when `sixteenBit`, rounded, for formats that keep a 16-bit source's depth): the `content`
    /// region (default: all of it), with `alpha` (0…1 per pixel of the region) and the ICC
    /// profile re-attached. NaN maps to black (a NaN would trap in `UInt8(_:)`).
    public func quantized(batchIndex: Int = 0, content: (x: Int, y: Int, width: Int, height: Int)? = nil,
                          alpha: [Float]? = nil, iccProfile: Data? = nil, _ quantization: Quantization,
                          sixteenBit: Bool = false) -> EncodableImage {
        let (_, c, h, w) = nchw
        let r = content ?? (0, 0, w, h)
        let hasAlpha = alpha != nil
        let colors = c == 1 ? 1 : 3
        let stride = colors + (hasAlpha ? 1 : 0)
        var samples = [UInt8](repeating: 0, count: r.width * r.height * stride)
        var wide = [UInt16](repeating: 0, count: sixteenBit ? samples.count : 0)
        let offset: Float = quantization == .round ? 0.5 : 0
        withUnsafeBufferPointer { all in
            let base = all.baseAddress! + batchIndex * c * h * w
            for y in 0..<r.height {
                for x in 0..<r.width {
                    let src = (r.y + y) * w + r.x + x
                    let dst = (y * r.width + x) * stride
                    for ch in 0..<colors {
                        let value = base[min(ch, c - 1) * h * w + src]
                        let v = value.isNaN ? -1 : min(max(value, -1), 1)
                        samples[dst + ch] = UInt8((v + 1) / 2 * 255 + offset)
                        if sixteenBit { wide[dst + ch] = UInt16((v + 1) / 2 * 65535 + 0.5) }
                    }
                    if let alpha {
                        let a = alpha[y * r.width + x]
                        let clamped = a.isNaN ? 0 : min(max(a, 0), 1)
                        samples[dst + colors] = UInt8(clamped * 255 + 0.5)
                        if sixteenBit { wide[dst + colors] = UInt16(clamped * 65535 + 0.5) }
                    }
                }
            }
        }
        return EncodableImage(width: r.width, height: r.height, colorChannels: colors, hasAlpha: hasAlpha,
                              samples: samples, iccProfile: iccProfile, samples16: sixteenBit ? wide : nil)
    }
}
