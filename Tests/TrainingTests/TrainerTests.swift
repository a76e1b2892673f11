import Engine
import Foundation
import Imaging
import Models
import Runs
import TestSupport
import Testing
import Training

/// The trainer end to end on tiny datasets it builds: every file of the run folder, and a loss
/// that falls.
struct TrainerTests {
    /// Shapes: A is a pattern, B the same pattern inverted — an easy mapping to learn.
    func alignedDataset(_ dir: TemporaryDirectory, count: Int, side: Int) throws {
        for i in 0..<count {
            let a = TestImages.pattern(width: side, height: side, seed: i)
            var samples: [UInt8] = []
            for y in 0..<side {
                samples += a.samples[(y * side * 3)..<((y + 1) * side * 3)]
                samples += a.samples[(y * side * 3)..<((y + 1) * side * 3)].map { 255 - $0 }
            }
            let ab = EncodableImage(width: 2 * side, height: side, colorChannels: 3, hasAlpha: false, samples: samples)
            try dir.write("data/train/\(i).png", try ImageCodec.encode(ab, as: .png, path: "t"))
        }
    }

    @Test func pix2pixWritesTheRunFolderAndLearns() throws {
        let dir = try TemporaryDirectory()
        try alignedDataset(dir, count: 2, side: 128)
        let options = try TrainingOptions.resolve(.pix2pix, flags: [
            ("data", dir.path("data")), ("run", dir.path("run")), ("net-g", "unet_128"), ("ngf", "4"), ("ndf", "4"),
            ("preprocess", "crop"), ("load-size", "128"), ("crop-size", "128"), ("n-epochs", "10"), ("n-epochs-decay", "0"),
            ("save-epoch-freq", "5"), ("lr", "0.002"), ("seed", "3"), ("no-dropout", "true"),
        ])
        let trainer = try Trainer(options, backend: Backends.direct)
        #expect(trainer.epochs == 1...10)
        try trainer.train()
        let files = Set(try FileManager.default.subpathsOfDirectory(atPath: dir.path("run")))
        for f in ["config.yaml", "losses.jsonl", "loss_curves.svg", "index.html", "state.json", "latest_net_G.pth", "latest_net_G.safetensors", "latest_net_D.pth", "5_net_G.pth",
                  "10_net_D.pth", "samples/epoch_001.png", "samples/epoch_010.png"] {
            #expect(files.contains(f), "\(f) in \(files.sorted())")
        }
        let records = try LossLog.read(URL(fileURLWithPath: dir.path("run/losses.jsonl")))
        #expect(records.count == 20)
        #expect(records.first?.losses.map(\.name) == ["G_GAN", "G_L1", "D_real", "D_fake"])
        func l1(_ epoch: Int) -> Double { records.filter { $0.epoch == epoch }.map { $0.losses[1].value }.reduce(0, +) }
        print("G_L1 by epoch:", (1...10).map(l1))
        #expect(l1(10) < 0.85 * l1(1), "G_L1 should fall on an easy mapping")
        // The saved generator loads strictly into a fresh network, and the config reads back.
        let g = try Generator(try options.generatorArchitecture())
        _ = try RunFolder(dir.path("run")).loadNetworks([("G", g.root)], epoch: "latest")
        let yaml = try String(contentsOfFile: dir.path("run/config.yaml"), encoding: .utf8)
        #expect(try TrainingOptions.resolve(.pix2pix, config: TrainingOptions.configEntries(yaml: yaml, file: "config.yaml")) == options)
    }

    @Test func cycleGANRunsBothDirections() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 { try dir.write("data/trainA/\(i).png", try TestImages.png(width: 40, height: 36, seed: i)) }
        for i in 0..<3 { try dir.write("data/trainB/\(i).png", try TestImages.png(width: 36, height: 40, seed: 10 + i)) }
        let options = try TrainingOptions.resolve(.cyclegan, flags: [
            ("data", dir.path("data")), ("run", dir.path("run")), ("net-g", "resnet_6blocks"), ("ngf", "4"), ("ndf", "4"),
            ("load-size", "36"), ("crop-size", "32"), ("n-epochs", "1"), ("n-epochs-decay", "1"), ("pool-size", "2"),
        ])
        let trainer = try Trainer(options, backend: Backends.winograd)
        var seen = 0
        try trainer.train(report: { if case .iteration(let r, _, _) = $0 { seen += 1; #expect(r.losses.allSatisfy { $0.value.isFinite }) } })
        #expect(seen == 6)
        let records = try LossLog.read(URL(fileURLWithPath: dir.path("run/losses.jsonl")))
        #expect(records.first?.losses.map(\.name) == ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"])
        // Linear policy with 1 + 1 epochs: the second epoch runs at lr · (1 − 1/2).
        #expect(records.last?.lr == 2e-4 * 0.5)
        for name in ["G_A", "G_B", "D_A", "D_B"] {
            #expect(FileManager.default.fileExists(atPath: dir.path("run/latest_net_\(name).pth")))
        }
        let grid = try ImageCodec.decodeFile(atPath: dir.path("run/samples/epoch_002.png"))
        #expect(grid.width == 4 * 32 + 5 * 4 && grid.height == 2 * 32 + 3 * 4)
    }

    /// A shape on white, 32×32: filled (domain A) or only its outline (domain B).
    static func shape(_ seed: Int, outline: Bool) throws -> Data {
        let side = 32, cx = 8 + (seed * 7) % 16, cy = 8 + (seed * 11) % 16, r = 5 + seed % 4
        let colour: [UInt8] = [[200, 30, 30], [30, 150, 40], [40, 60, 200], [180, 140, 20]][seed % 4]
        var samples = [UInt8](repeating: 255, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                let (dx, dy) = (x - cx, y - cy)
                let inside = seed % 2 == 0 ? dx * dx + dy * dy <= r * r : max(abs(dx), abs(dy)) <= r
                let edge = seed % 2 == 0 ? inside && dx * dx + dy * dy > (r - 2) * (r - 2) : inside && max(abs(dx), abs(dy)) > r - 2
                if outline ? edge : inside { samples.replaceSubrange((y * side + x) * 3..<(y * side + x) * 3 + 3, with: colour) }
            }
        }
        return try ImageCodec.encode(EncodableImage(width: side, height: side, colorChannels: 3, hasAlpha: false, samples: samples),
                                     as: .png, path: "shape")
    }

    @Test func cycleGANLearnsShapesAndOutlines() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<8 {
            try dir.write("data/trainA/\(i).png", try Self.shape(i, outline: false))
            try dir.write("data/trainB/\(i).png", try Self.shape(i + 3, outline: true))
        }
        let options = try TrainingOptions.resolve(.cyclegan, flags: [
            ("data", dir.path("data")), ("run", dir.path("run")), ("net-g", "resnet_6blocks"), ("ngf", "8"), ("ndf", "8"),
            ("preprocess", "none"), ("no-flip", "true"), ("n-epochs", "8"), ("n-epochs-decay", "0"), ("lr", "0.001"),
            ("pool-size", "4"), ("seed", "2"), ("threads", "2"),
        ])
        try Trainer(options, backend: Backends.winograd).train()
        let records = try LossLog.read(URL(fileURLWithPath: dir.path("run/losses.jsonl")))
        #expect(records.count == 64)
        func mean(_ name: String, _ epoch: Int) -> Double {
            let values = records.filter { $0.epoch == epoch }.compactMap { $0.losses.first { $0.name == name }?.value }
            return values.reduce(0, +) / Double(values.count)
        }
        let cycle = (1...8).map { mean("cycle_A", $0) + mean("cycle_B", $0) }
        print("cycle_A + cycle_B by epoch:", cycle)
        // Reconstruction is the part of CycleGAN that must improve on any data; the adversarial
        // terms go up and down by design.
        #expect(cycle[7] < 0.6 * cycle[0], "cycle losses should fall: \(cycle)")
        #expect(records.allSatisfy { $0.losses.allSatisfy { $0.value.isFinite } })
    }
}
