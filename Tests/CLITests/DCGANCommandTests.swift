import Foundation
import Imaging
import Testing
import TestSupport

/// `gantry train dcgan` and `gantry sample` end to end, as a person runs them.
struct DCGANCommandTests {
    @Test func trainsThenSamples() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<8 { try dir.write("faces/\(i).png", try TestImages.png(width: 72, height: 64, seed: i)) }
        let train = try runGantry(["train", "dcgan", "--data", dir.path("faces"), "--run", dir.path("run"), "--ngf", "4", "--ndf", "4",
                                   "--nz", "8", "--batch-size", "4", "--n-epochs", "2", "--save-epoch-freq", "2", "--gan-mode", "hinge"])
        #expect(train.status == 0, "\(train.stderr)")
        let files = Set(try FileManager.default.subpathsOfDirectory(atPath: dir.path("run")))
        for f in ["config.yaml", "losses.jsonl", "loss_curves.svg", "index.html", "latest_net_G.pth", "2_net_D.pth", "samples/epoch_002.png"] {
            #expect(files.contains(f), "\(f) in \(files.sorted())")
        }
        let config = try String(contentsOfFile: dir.path("run/config.yaml"), encoding: .utf8)
        #expect(config.hasPrefix("model: dcgan\n") && config.contains("gan-mode: hinge") && config.contains("nz: 8"))
        let log = try String(contentsOfFile: dir.path("run/losses.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 4 && log.allSatisfy { $0.contains("\"Loss_D\":") && !$0.contains("null") })

        // The same seed draws the same grid; -n and --columns shape it.
        for name in ["a.png", "b.png"] {
            let r = try runGantry(["sample", "-m", dir.path("run"), "-n", "6", "--columns", "3", "--seed", "9", "-o", dir.path(name)])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.path("a.png")))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir.path("b.png")))))
        let header = try ImageCodec.readHeader(a, path: "a.png")
        #expect(header.width == 3 * 64 + 4 * 2 && header.height == 2 * 64 + 3 * 2)

        // inspect reports the run: epochs, both networks loaded, how to use it.
        let inspect = try runGantry(["inspect", dir.path("run")])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        for line in ["model:        dcgan\n", "2 of epochs 1…2 (state.json)", "iterations:   4", "interrupted:  no",
                     "DCGAN generator: z of 8 → 64×64 RGB, ngf 4, batch norm", "DCGAN discriminator", "gantry sample -m RUN"] {
            #expect(inspect.stdout.contains(line), "\(line) in \(inspect.stdout)")
        }
        // --continue takes the run's own options; more epochs carry on from state.json.
        let more = try runGantry(["train", "dcgan", "--run", dir.path("run"), "--continue", "--n-epochs", "3"])
        #expect(more.status == 0 && more.stdout.contains("epochs 3…3"), "\(more.stdout) \(more.stderr)")
        #expect(try String(contentsOfFile: dir.path("run/losses.jsonl"), encoding: .utf8).split(separator: "\n").count == 6)
        #expect(FileManager.default.fileExists(atPath: dir.path("run/samples/epoch_003.png")))

        // Refusals name what is wrong, one line, exit 1 (64 for a bad flag).
        let translate = try runGantry(["convert", dir.path("faces/0.png"), "-m", dir.path("run"), "-o", dir.path("out")])
        #expect(translate.status != 0 && translate.stderr.contains("dcgan run"), "\(translate.stderr)")
        let wrongRun = try runGantry(["sample", "-m", dir.path("faces"), "-o", dir.path("c.png")])
        #expect(wrongRun.status == 1 && wrongRun.stderr.contains("not a run folder"))
        let notImage = try runGantry(["sample", "-m", dir.path("run"), "-o", dir.path("c.bmp")])
        #expect(notImage.status == 64 && notImage.stderr.contains(".png, .jpg, .tif or .webp"), "\(notImage.stderr)")
        // The grid in the other formats Gantry writes, the same pixels where lossless.
        // (the run has trained on since a.png: draw its PNG again.)
        _ = try runGantry(["sample", "-m", dir.path("run"), "-n", "6", "--columns", "3", "--seed", "9", "-o", dir.path("c.png")])
        let png = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: dir.path("c.png"))), path: "c.png")
        for name in ["c.tif", "c.webp", "c.jpg"] {
            let r = try runGantry(["sample", "-m", dir.path("run"), "-n", "6", "--columns", "3", "--seed", "9", "-o", dir.path(name)])
            #expect(r.status == 0, "\(r.stderr)")
            let grid = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: dir.path(name))), path: name)
            #expect(grid.format == ImageFormat(fileExtension: (name as NSString).pathExtension))
            #expect((grid.width, grid.height) == (png.width, png.height))
            let same = grid.samples == png.samples
            if !name.hasSuffix(".jpg") { #expect(same, "\(name) holds other pixels than c.png") }
        }
        let norm = try runGantry(["train", "dcgan", "--data", dir.path("faces"), "--run", dir.path("run2"), "--norm", "instance"])
        #expect(norm.status == 1 && norm.stderr.contains("--norm for dcgan"), "\(norm.stderr)")
    }
}
