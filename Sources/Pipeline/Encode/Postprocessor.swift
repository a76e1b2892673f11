import Engine
import Imaging
import Models

/// Generator output → 8-bit image: crop away the padding, map [-1, 1] to 0…255 the way the
/// reference saves results, and re-attach the input's alpha and ICC profile.
public enum Postprocessor {
    /// How [-1, 1] becomes 0…255. pix2pix/CycleGAN's `tensor2im` truncates
    /// (`uint8((y + 1) / 2 · 255)`); StarGAN's `save_image` rounds.
    public enum Quantization: Sendable {
        case truncate, round

        public init(for family: GeneratorArchitecture.Family) {
            self = family == .stargan ? .round : .truncate
        }
    }

    /// A whole 1×C×H×W tensor (no padding, alpha or profile), as training's sample grids show
    /// their tiles: the same 8-bit conversion as `convert` writes.
    public static func image(from tile: Tensor, quantization: Quantization) -> EncodableImage {
        let (_, _, h, w) = tile.nchw
        let whole = PreparedImage(tensor: tile, content: (0, 0, w, h), alpha: nil, iccProfile: nil, sourceSize: (w, h))
        return image(from: tile, prepared: whole, quantization: quantization)
    }

    public static func image(from output: Tensor, batchIndex: Int = 0, prepared: PreparedImage,
                             quantization: Quantization) -> EncodableImage {
        let (_, c, h, w) = output.nchw
        let r = prepared.content
        let hasAlpha = prepared.alpha != nil
        let colors = c == 1 ? 1 : 3
        let stride = colors + (hasAlpha ? 1 : 0)
        var samples = [UInt8](repeating: 0, count: r.width * r.height * stride)
        let offset: Float = quantization == .round ? 0.5 : 0
        output.withUnsafeBufferPointer { all in
            let base = all.baseAddress! + batchIndex * c * h * w
            for y in 0..<r.height {
                for x in 0..<r.width {
                    let src = (r.y + y) * w + r.x + x
                    let dst = (y * r.width + x) * stride
                    for ch in 0..<colors {
                        // GeneratorRunner refuses non-finite outputs; NaN would trap in UInt8(_:).
                        let value = base[min(ch, c - 1) * h * w + src]
                        let v = value.isNaN ? -1 : min(max(value, -1), 1)
                        samples[dst + ch] = UInt8((v + 1) / 2 * 255 + offset)
                    }
                    if let alpha = prepared.alpha {
                        let a = alpha[y * r.width + x]
                        samples[dst + colors] = UInt8((a.isNaN ? 0 : min(max(a, 0), 1)) * 255 + 0.5)
                    }
                }
            }
        }
        return EncodableImage(width: r.width, height: r.height, colorChannels: colors, hasAlpha: hasAlpha,
                              samples: samples, iccProfile: prepared.iccProfile)
    }
}
