import Engine
import Foundation
import Imaging
import Models
import Runs

/// `RUN/samples/epoch_NNN.png`: the reference's visuals for one batch image, one row per
/// domain (pix2pix: real_A, fake_B, real_B; CycleGAN: real_A, fake_B, rec_A, idt_B and the B row),
/// each tile converted to 8 bits as `convert` converts its outputs (`Tensor.quantized`) (the reference's `tensor2im`
/// truncates; StarGAN's and DCGAN's `save_image` rounds).
public enum SampleGrid {
    /// The rows of tiles (each 1×C×H×W in [-1, 1], grey tiles shown as grey RGB) as PNG bytes,
    /// with a `gap`-pixel white border between tiles.
    public static func png(_ rows: [[Tensor]], gap: Int = 4, quantization: Quantization = .truncate, format: ImageFormat = .png) throws -> Data {
        guard let tileH = rows.first?.first?.shape[2], let tileW = rows.first?.first?.shape[3] else {
            throw TrainingError(.invalidSetting, "a sample grid needs at least one image")
        }
        let columns = rows.map(\.count).max() ?? 0
        let width = columns * tileW + (columns + 1) * gap, height = rows.count * tileH + (rows.count + 1) * gap
        var samples = [UInt8](repeating: 255, count: width * height * 3)
        for (r, row) in rows.enumerated() {
            for (c, tile) in row.enumerated() {
                guard tile.rank == 4, tile.shape[2] == tileH, tile.shape[3] == tileW, [1, 3].contains(tile.shape[1]) else {
                    throw TrainingError(.shapeMismatch, "sample grid tile \(tile.shape) differs from 1×3×\(tileH)×\(tileW)")
                }
                let tileImage = tile.quantized(quantization)
                let channels = tileImage.colorChannels
                let x0 = gap + c * (tileW + gap), y0 = gap + r * (tileH + gap)
                for y in 0..<tileH {
                    for x in 0..<tileW {
                        for k in 0..<3 {
                            samples[((y0 + y) * width + x0 + x) * 3 + k] = tileImage.samples[(y * tileW + x) * channels + min(k, channels - 1)]
                        }
                    }
                }
            }
        }
        let image = EncodableImage(width: width, height: height, colorChannels: 3, hasAlpha: false, samples: samples)
        // WebP lossless: a grid is looked at for its pixels (PNG and TIFF are lossless anyway).
        return try ImageCodec.encode(image, as: format, lossless: format == .webp, path: "sample grid")
    }
}
