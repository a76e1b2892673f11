import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Runs
import TestSupport
import Testing
import Training

/// CUT and FastCUT end to end on a tiny unpaired set: red shapes on white (A) and blue shapes on
/// white at other places (B). The run folder holds CUT's files (G, F and D in the CUT
/// repository's keys), the NCE loss falls, and the translation is measured on A's own images:
/// inside each shape blue − red (levels) goes from about −170 to clearly positive, the shape is
/// still coloured where it was, and the white background stays white.
struct CUTTrainerTests {
    static let side = 32

    /// Shape `seed` (a disc or a square) and its mask; red for A, blue for B.
    static func shape(_ seed: Int, blue: Bool) -> (png: Data, inside: [Bool]) {
        let cx = 8 + (seed * 7) % 16, cy = 8 + (seed * 11) % 16, r = 5 + seed % 4
        let colour: [UInt8] = blue ? [UInt8(40 + seed * 5 % 30), 40, 210] : [210, 40, UInt8(40 + seed * 5 % 30)]
        var samples = [UInt8](repeating: 255, count: side * side * 3), inside = [Bool](repeating: false, count: side * side)
        for y in 0..<side {
            for x in 0..<side {
                let (dx, dy) = (x - cx, y - cy)
                guard seed % 2 == 0 ? dx * dx + dy * dy <= r * r : max(abs(dx), abs(dy)) <= r else { continue }
                inside[y * side + x] = true
                samples.replaceSubrange((y * side + x) * 3..<(y * side + x) * 3 + 3, with: colour)
            }
        }
        let png = try! ImageCodec.encode(EncodableImage(width: side, height: side, colorChannels: 3, hasAlpha: false, samples: samples),
                                         as: .png, path: "shape")
        return (png, inside)
    }

    /// A run's `latest_net_{G,F,D}.pth` hold exactly the keys and shapes of the CUT repository's
    /// networks of the same sizes (recorded from its classes in `training/cut_step.safetensors`:
    /// resnet_6blocks ngf 4, basic D ndf 4, netF_nc 16), so `load_state_dict(strict=True)` takes them.
    @Test func runFilesHaveTheCUTRepositorysKeys() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 {
            try dir.write("data/trainA/\(i).png", Self.shape(i, blue: false).png)
            try dir.write("data/trainB/\(i).png", Self.shape(i + 3, blue: true).png)
        }
        let options = try TrainingOptions.resolve(.cut, flags: [
            ("data", dir.path("data")), ("run", dir.path("run")), ("net-g", "resnet_6blocks"), ("ngf", "4"), ("ndf", "4"),
            ("preprocess", "none"), ("n-epochs", "1"), ("n-epochs-decay", "0"), ("num-patches", "16"), ("netf-nc", "16"),
        ])
        try Trainer(options, backend: Backends.direct).train()
        let reference = try TrainingFixture("cut_step")
        for name in ["G", "F", "D"] {
            let saved = try Checkpoints.Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("run/latest_net_\(name).pth"))).stateDict
            let expected = reference.tensors.filter { $0.key.hasPrefix("init.\(name).") }
            #expect(Set(saved.keys) == Set(expected.keys.map { String($0.dropFirst("init.\(name).".count)) }), "\(name)")
            for (key, t) in expected { #expect(saved[String(key.dropFirst("init.\(name).".count))]?.shape == t.shape, "\(key)") }
        }
    }

    @Test(arguments: ["cut", "fastcut"])
    func learnsRedToBlueAndKeepsTheShapes(_ mode: String) throws {
        let dir = try TemporaryDirectory()
        for i in 0..<8 {
            try dir.write("data/trainA/\(i).png", Self.shape(i, blue: false).png)
            try dir.write("data/trainB/\(i).png", Self.shape(i + 3, blue: true).png)
        }
        let recipe = TrainingRecipe(rawValue: mode)!
        let options = try TrainingOptions.resolve(recipe, flags: [
            ("data", dir.path("data")), ("run", dir.path("run")), ("net-g", "resnet_6blocks"), ("ngf", "8"), ("ndf", "8"),
            ("preprocess", "none"), ("no-flip", "true"), ("n-epochs", "8"), ("n-epochs-decay", "0"), ("lr", "0.001"),
            ("num-patches", "64"), ("netf-nc", "32"), ("seed", "2"), ("threads", "2"),
        ])
        try Trainer(options, backend: Backends.winograd).train()
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path("run")))
        for f in ["config.yaml", "losses.jsonl", "index.html", "latest_net_G.pth", "latest_net_F.pth", "latest_net_D.pth", "5_net_F.pth"] {
            #expect(files.contains(f), "\(f) in \(files.sorted())")
        }
        let records = try LossLog.read(URL(fileURLWithPath: dir.path("run/losses.jsonl")))
        #expect(records.first?.losses.map(\.name) == ["G_GAN", "D_real", "D_fake", "G", "NCE"] + (mode == "cut" ? ["NCE_Y"] : []))
        #expect(records.allSatisfy { $0.losses.allSatisfy { $0.value.isFinite } })
        func nce(_ epoch: Int) -> Double {
            let v = records.filter { $0.epoch == epoch }.compactMap { $0.losses.first { $0.name == "NCE" }?.value }
            return v.reduce(0, +) / Double(v.count)
        }
        print("\(mode) NCE by epoch:", (1...8).map(nce))
        #expect(nce(8) < 0.9 * nce(1), "NCE should fall: \((1...8).map(nce))")

        let g = try Generator(try options.generatorArchitecture())
        _ = try RunFolder(dir.path("run")).loadNetworks([("G", g.root)], epoch: "latest")
        var blueness = 0.0, kept = 0.0, background = 0.0
        for i in 0..<8 {
            let (png, inside) = Self.shape(i, blue: false)
            let image = try ImageCodec.decode(png, path: "a.png")
            var planes = [Float](repeating: 0, count: 3 * Self.side * Self.side)
            for p in 0..<(Self.side * Self.side) { for c in 0..<3 { planes[c * Self.side * Self.side + p] = Float(image.samples[p * 3 + c]) / 127.5 - 1 } }
            let y = try g.forward(Tensor(shape: [1, 3, Self.side, Self.side], values: planes),
                                  context: ForwardContext(backend: Backends.winograd)).values
            let plane = Self.side * Self.side
            var (b, k, bg) = (0.0, 0.0, 0.0)
            for p in 0..<plane {
                let rgb = (0..<3).map { Double(y[$0 * plane + p] + 1) * 127.5 }
                let coloured = rgb.max()! - rgb.min()! > 60
                if inside[p] { b += rgb[2] - rgb[0]; k += coloured ? 1 : 0 } else { bg += coloured ? 1 : 0 }
            }
            let n = Double(inside.filter { $0 }.count)
            blueness += b / n / 8; kept += k / n / 8; background += bg / Double(plane - Int(n)) / 8
        }
        print("\(mode): inside blue − red \(blueness) (A: about −170), shape kept \(kept), background coloured \(background)")
        #expect(blueness > 40, "the shapes should turn blue")
        #expect(kept > 0.5, "the shapes should stay where they were")
        #expect(background < 0.25, "the white background should stay white")
    }
}
