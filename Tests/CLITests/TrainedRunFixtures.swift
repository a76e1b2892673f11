import Engine
import Foundation
import Imaging
import Runs
import TestSupport
import Training

/// Tiny real run folders, trained by the Trainer in a second or two, for the commands that read
/// runs (`convert -m RUN`, `inspect RUN`).
enum TrainedRunFixtures {
    /// pix2pix at the reference's pix2pix defaults (UNet, batch norm, dropout layers), shrunk:
    /// unet_128 with ngf 4 on two 128×128 pairs, 2 epochs, every epoch saved.
    static func pix2pix(in dir: TemporaryDirectory, name: String = "p2p", extra: [(String, String)] = []) throws -> String {
        for i in 0..<2 {
            let a = TestImages.pattern(width: 128, height: 128, seed: i)
            var samples: [UInt8] = []
            for y in 0..<128 {
                let row = a.samples[(y * 128 * 3)..<((y + 1) * 128 * 3)]
                samples += row
                samples += row.map { 255 - $0 }
            }
            let ab = EncodableImage(width: 256, height: 128, colorChannels: 3, hasAlpha: false, samples: samples)
            try dir.write("\(name)-data/train/\(i).png", try ImageCodec.encode(ab, as: .png, path: "t.png"))
        }
        return try train(.pix2pix, dir, name, [
            ("net-g", "unet_128"), ("preprocess", "crop"), ("load-size", "128"), ("crop-size", "128"),
            ("n-epochs", "2"), ("n-epochs-decay", "0"), ("save-epoch-freq", "1"), ("lr", "0.002"),
        ] + extra)
    }

    /// colorization at its defaults (unet, batch norm, dropout, L → ab), shrunk: unet_128 with
    /// ngf 4 on two 128² colour photos, 2 epochs.
    static func colorization(in dir: TemporaryDirectory, name: String = "colour") throws -> String {
        for i in 0..<2 { try dir.write("\(name)-data/\(i).png", try TestImages.png(width: 128, height: 128, seed: 40 + i)) }
        return try train(.colorization, dir, name, [
            ("net-g", "unet_128"), ("preprocess", "none"), ("n-epochs", "2"), ("n-epochs-decay", "0"),
            ("save-epoch-freq", "1"), ("lr", "0.002"),
        ])
    }

    /// CycleGAN at its defaults (ResNet, instance norm, no dropout), shrunk: resnet_6blocks with
    /// ngf 4 on 36-pixel images cropped to 32, 2 epochs.
    static func cyclegan(in dir: TemporaryDirectory, name: String = "cg") throws -> String {
        for i in 0..<2 { try dir.write("\(name)-data/trainA/\(i).png", try TestImages.png(width: 36, height: 36, seed: i)) }
        for i in 0..<2 { try dir.write("\(name)-data/trainB/\(i).png", try TestImages.png(width: 36, height: 36, seed: 20 + i)) }
        return try train(.cyclegan, dir, name, [
            ("net-g", "resnet_6blocks"), ("load-size", "36"), ("crop-size", "32"), ("n-epochs", "1"),
            ("n-epochs-decay", "1"), ("pool-size", "2"), ("lr", "0.002"),
        ])
    }

    private static func train(_ recipe: TrainingRecipe, _ dir: TemporaryDirectory, _ name: String,
                              _ settings: [(String, String)]) throws -> String {
        let run = dir.path("runs/\(name)")
        let options = try TrainingOptions.resolve(recipe, flags: [
            ("data", dir.path("\(name)-data")), ("run", run), ("ngf", "4"), ("ndf", "4"), ("seed", "5"),
        ] + settings)
        let trainer = try Trainer(options, backend: Backends.winograd)
        try trainer.train()
        return run
    }
}
