import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Runs
import TestSupport
import Testing
import Training

/// `gantry train stargan` end to end on synthetic domains: red and blue discs on a pale ground.
struct StarGANTrainerTests {
    /// `count` discs per colour, of random size and place, `side`×`side`.
    static func discs(_ dir: TemporaryDirectory, count: Int, side: Int = 40) throws {
        let random = RandomSource(seed: 11)
        for (domain, colour) in [("red", [220, 40, 40]), ("blue", [40, 60, 220])] as [(String, [Int])] {
            for i in 0..<count {
                let r = 8 + Int(random.next() % 6), cx = 12 + Int(random.next() % 16), cy = 12 + Int(random.next() % 16)
                var samples: [UInt8] = []
                for y in 0..<side {
                    for x in 0..<side {
                        let inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r
                        samples += inside ? colour.map(UInt8.init) : [235, 235, 225]
                    }
                }
                let image = EncodableImage(width: side, height: side, colorChannels: 3, hasAlpha: false, samples: samples)
                try dir.write("data/\(domain)/\(i).png", try ImageCodec.encode(image, as: .png, path: "t"))
            }
        }
    }

    static func options(_ dir: TemporaryDirectory, iterations: Int, extra: [(String, String)] = []) throws -> TrainingOptions {
        try TrainingOptions.resolve(.stargan, flags: [
            ("data", dir.path("data")), ("run", dir.path("run")), ("image-size", "32"), ("crop-size", "40"),
            ("g_conv_dim", "16"), ("d_conv_dim", "16"), ("g-repeat-num", "2"), ("d-repeat-num", "3"),
            ("num-iters", "\(iterations)"), ("num-iters-decay", "0"), ("model-save-step", "\(iterations)"),
            ("sample-step", "\(iterations)"), ("batch-size", "8"), ("lr", "0.0005"), ("seed", "4"),
        ] + extra)
    }

    /// The run folder has StarGAN's checkpoints (loadable strictly into its networks), the log
    /// (G's terms empty on critic-only iterations), samples and config with the domains.
    @Test func writesTheRunFolder() throws {
        let dir = try TemporaryDirectory()
        try Self.discs(dir, count: 3)
        let trainer = try Trainer(try Self.options(dir, iterations: 10, extra: [("model-save-step", "5")]), backend: Backends.direct)
        try trainer.train()
        let files = Set(try FileManager.default.subpathsOfDirectory(atPath: dir.path("run")))
        for f in ["config.yaml", "losses.jsonl", "loss_curves.svg", "state.json", "models/5-G.ckpt", "models/10-D.ckpt",
                  "latest_net_G.pth", "samples/10-images.png", "index.html"] {
            #expect(files.contains(f), "\(f) in \(files.sorted())")
        }
        let (g, d) = trainer.options.starGANArchitectures(domains: 2)
        #expect(trainer.options.domains == ["blue", "red"])
        _ = try Generator(g).root.loadStrictly(Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("run/models/10-G.ckpt"))).stateDict, network: "G")
        _ = try Discriminator(d).root.loadStrictly(Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("run/models/10-D.ckpt"))).stateDict, network: "D")
        let records = try LossLog.read(URL(fileURLWithPath: dir.path("run/losses.jsonl")))
        #expect(records.count == 10)
        for (i, r) in records.enumerated() {
            let g = r.losses.first { $0.name == "G/loss_rec" }!.value
            #expect(g.isFinite == ((i + 1) % 5 == 0), "iteration \(i + 1): G/loss_rec \(g)")
        }
        let run = try TrainedRun(URL(fileURLWithPath: dir.path("run")))
        #expect(try run.generatorArchitecture("G") == g)
        // inspect: iterations, not epochs, and no direction.
        let summary = try RunSummary(URL(fileURLWithPath: dir.path("run"))).text
        #expect(summary.contains("iterations:   10 of 10") && !summary.contains("direction") && !summary.contains("epochs done"), "\(summary)")
        let index = try RunIndex.scan(runFolder: URL(fileURLWithPath: dir.path("run")), model: .stargan, epochsTotal: 10)
        #expect(index.epochsDone == 10 && index.finished && index.sampleEpochs == [10])
        #expect(index.html().contains("samples/10-images.png") && index.html().contains("<b>Iteration 10</b>"))
    }

    /// Stopped after 4 iterations and continued, a run ends bit for bit where an uninterrupted one does.
    @Test func continuesExactly() throws {
        let a = try TemporaryDirectory(), b = try TemporaryDirectory()
        try Self.discs(a, count: 3)
        try Self.discs(b, count: 3)
        try Trainer(try Self.options(a, iterations: 8), backend: Backends.direct).train()
        var calls = 0
        let first = try Trainer(try Self.options(b, iterations: 8), backend: Backends.direct)
        #expect(try first.train(until: { calls += 1; return calls == 4 }) == .stopped(epoch: 1, images: 4))
        let second = try Trainer(try Self.options(b, iterations: 8, extra: [("continue", "true")]), backend: Backends.direct)
        #expect(second.iterations == 4)
        try second.train()
        for name in ["G", "D"] {
            let differing = try differingTensors(URL(fileURLWithPath: a.path("run/models/8-\(name).ckpt")),
                                                 URL(fileURLWithPath: b.path("run/models/8-\(name).ckpt")))
            #expect(differing.isEmpty, "\(name): \(differing)")
        }
        #expect(try LossLog.read(URL(fileURLWithPath: b.path("run/losses.jsonl"))).count == 8)
    }

    /// Trained for 600 iterations (about ten seconds), the generator paints a disc the colour of the
    /// domain it is asked for and keeps it when asked for its own: measured as the mean colour of
    /// the pixels that differ from the ground.
    @Test func learnsToChangeTheAttributeWhenAsked() throws {
        let dir = try TemporaryDirectory()
        try Self.discs(dir, count: 6)
        // 600 iterations: at 300 some seeds have not yet learned the second colour; at 600 the CLI
        // got every translation right on these discs over three seeds (small discs, r 5–9, made
        // one seed of three collapse: the attribute must cover enough of the image).
        let trainer = try Trainer(try Self.options(dir, iterations: 600), backend: Backends.direct)
        try trainer.train()
        let run = try TrainedRun(URL(fileURLWithPath: dir.path("run")))
        let g = try Generator(try run.generatorArchitecture("G"))
        _ = try RunFolder(dir.path("run")).loadNetworks([("G", g.root)], epoch: "latest")
        let context = ForwardContext(backend: Backends.direct)
        var correct = 0, total = 0
        for source in ["red", "blue"] {
            for i in 0..<6 {
                let decoded = PlanarImage(try ImageCodec.decodeFile(atPath: dir.path("data/\(source)/\(i).png")))
                let image = try Tensor(normalizing: StarGANDataset.transform(decoded, cropSize: 40, imageSize: 32, flip: false), channels: 3)
                for (k, target) in ["blue", "red"].enumerated() {
                    let out = try g.forward(image, condition: try Tensor(shape: [1, 2], values: [k == 0 ? 1 : 0, k == 1 ? 1 : 0]), context: context).values
                    let plane = 32 * 32
                    // Pixels far from the pale ground: the disc as drawn.
                    var red = 0.0, blue = 0.0, n = 0
                    for p in 0..<plane {
                        let (r, g, b) = (Double(out[p]), Double(out[plane + p]), Double(out[2 * plane + p]))
                        guard r + g + b < 1.2 else { continue }
                        red += r; blue += b; n += 1
                    }
                    total += 1
                    if n > 0 && (target == "red" ? red > blue : blue > red) { correct += 1 }
                }
            }
        }
        print("StarGAN discs: \(correct) of \(total) translations have the asked colour")
        #expect(correct >= total * 5 / 6)
    }

    /// Two attributes from a CSV table, colour (Red) and size (Big), four discs of each kind. After
    /// 800 iterations, flipping one attribute changes it and keeps the other: measured per image
    /// as the disc's mean colour and its area (dark pixels), 64 checks in all.
    @Test func changesOneAttributeAndKeepsTheOther() throws {
        let dir = try TemporaryDirectory()
        let random = RandomSource(seed: 21)
        var table = "file,Red,Big\n"
        for red in [true, false] {
            for big in [true, false] {
                for i in 0..<4 {
                    let r = big ? 11 + Int(random.next() % 3) : 5 + Int(random.next() % 2)
                    let cx = 14 + Int(random.next() % 12), cy = 14 + Int(random.next() % 12)
                    var samples: [UInt8] = []
                    for y in 0..<40 {
                        for x in 0..<40 {
                            let inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r
                            samples += !inside ? [235, 235, 225] : red ? [220, 40, 40] : [40, 60, 220]
                        }
                    }
                    let name = "\(red ? "red" : "blue")_\(big ? "big" : "small")_\(i).png"
                    try dir.write("data/\(name)", try ImageCodec.encode(EncodableImage(width: 40, height: 40, colorChannels: 3, hasAlpha: false, samples: samples), as: .png, path: name))
                    table += "\(name),\(red ? 1 : 0),\(big ? 1 : 0)\n"
                }
            }
        }
        try dir.write("attrs.csv", Data(table.utf8))
        let trainer = try Trainer(try Self.options(dir, iterations: 800, extra: [
            ("attributes", dir.path("attrs.csv")), ("selected-attrs", "Red,Big"),
        ]), backend: Backends.direct)
        try trainer.train()
        let recipe = try #require(trainer.recipe as? StarGANRecipe)
        let g = recipe.model.generator
        let context = ForwardContext(backend: Backends.direct)
        var passed = 0, checks = 0
        for (file, labels) in zip(recipe.dataset.files, recipe.dataset.labels) {
            let decoded = PlanarImage(try ImageCodec.decodeFile(atPath: file))
            let image = try Tensor(normalizing: StarGANDataset.transform(decoded, cropSize: 40, imageSize: 32, flip: false), channels: 3)
            for flipped in 0..<2 {
                var target = labels
                target[flipped] = 1 - target[flipped]
                let out = try g.forward(image, condition: try Tensor(shape: [1, 2], values: target), context: context).values
                var red = 0.0, blue = 0.0, area = 0
                for p in 0..<1024 {
                    let (r, gg, b) = (Double(out[p]), Double(out[1024 + p]), Double(out[2048 + p]))
                    guard r + gg + b < 1.2 else { continue }
                    red += r; blue += b; area += 1
                }
                // Big discs cover ~250–340 pixels at 32², small ones ~50–75.
                let isRed = area > 0 && red > blue, isBig = area > 150
                checks += 2
                if isRed == (target[0] == 1) { passed += 1 }
                if isBig == (target[1] == 1) { passed += 1 }
            }
        }
        print("StarGAN attributes: \(passed) of \(checks) colour and size checks hold")
        #expect(passed >= checks * 4 / 5)
    }

    @Test func optionsOfOtherRecipesAreRefusedByName() throws {
        #expect { try TrainingOptions.resolve(.stargan, flags: [("lambda-l1", "10")]) } throws: {
            "\($0)".contains("--lambda-l1 is an option of pix2pix and colorization, not of stargan")
        }
        #expect { try TrainingOptions.resolve(.pix2pix, flags: [("num-iters", "10")]) } throws: {
            "\($0)".contains("--num-iters is an option of stargan")
        }
        var o = TrainingOptions.defaults(for: .stargan)
        (o.data, o.run) = ("d", "r")
        try o.set("attributes", to: "list.txt")
        #expect { try o.validate() } throws: { "\($0)".contains("--selected-attrs") }
        try o.set("selected_attrs", to: "Black_Hair Male")
        #expect(o.selectedAttrs == ["Black_Hair", "Male"])
        try o.validate()
    }

    /// The solver's rule, at its defaults: no change before 100k iterations, then 1e-9 off every
    /// 1000, ending at 9.99e-5.
    @Test func learningRateFollowsTheSolver() throws {
        let o = TrainingOptions.defaults(for: .stargan)
        #expect(try StarGANRecipe.learningRate(after: 100_000, o) == 1e-4)
        #expect(abs(try StarGANRecipe.learningRate(after: 101_000, o) - (1e-4 - 1e-9)) < 1e-18)
        #expect(abs(try StarGANRecipe.learningRate(after: 101_999, o) - (1e-4 - 1e-9)) < 1e-18)
        #expect(abs(try StarGANRecipe.learningRate(after: 200_000, o) - 9.99e-5) < 1e-15)
        // d_lr: D's own rate, decaying from its own start; "same" (the default) follows lr.
        var separate = o
        try separate.set("d_lr", to: "4e-4")
        #expect(try StarGANRecipe.learningRate(after: 100_000, separate, network: "D") == 4e-4)
        #expect(abs(try StarGANRecipe.learningRate(after: 200_000, separate, network: "D") - 3.996e-4) < 1e-15)
        #expect(try StarGANRecipe.learningRate(after: 100_000, separate, network: "G") == 1e-4)
        #expect(try StarGANRecipe.learningRate(after: 100_000, o, network: "D") == 1e-4)
        #expect(separate.settings.contains { $0 == ("d-lr", "0.0004") })
        #expect { try separate.set("d-lr", to: "-1") } throws: { "\($0)".contains("--d-lr") }
    }
}
