import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Runs
import TestSupport
import Testing
import Training

/// The StarGAN solver's test mode on a run: result files of `batch-size` rows, each row the real
/// image and its translation into every domain, as G computes them.
struct StarGANTesterTests {
    @Test func resultFilesHoldTheRealImageAndEveryTranslation() throws {
        let dir = try TemporaryDirectory()
        try StarGANTrainerTests.discs(dir, count: 3)
        let options = try StarGANTrainerTests.options(dir, iterations: 4, extra: [("batch-size", "4"), ("model-save-step", "2")])
        try Trainer(options, backend: Backends.direct).train()
        let run = try TrainedRun(URL(fileURLWithPath: dir.path("run")))
        let tester = try StarGANTester(run: run)
        // Domain folders hold nothing out: every image is a test image, 4 rows to a file.
        #expect(tester.dataset.count == 6 && tester.rowsPerFile == 4 && tester.fileCount == 2)
        let files = try tester.run(into: URL(fileURLWithPath: dir.path("results")), backend: Backends.direct)
        #expect(files.map(\.lastPathComponent) == ["1-images.png", "2-images.png"])
        let first = try ImageCodec.decode(Data(contentsOf: files[0]), path: "1")
        let second = try ImageCodec.decode(Data(contentsOf: files[1]), path: "2")
        // 32×32 tiles, no gaps: real + 2 domains across, 4 and then 2 rows down.
        #expect((first.width, first.height) == (96, 128) && (second.width, second.height) == (96, 64))

        // Row 1 of the second file is test image 5: its real tile, then G with one-hot labels.
        let g = try Generator(try run.generatorArchitecture("G"))
        _ = try g.root.loadStrictly(Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("run/latest_net_G.pth"))).stateDict, network: "G")
        let (image, _) = try tester.dataset.item(5, random: RandomSource(seed: 0))
        var tiles = [image]
        for k in 0..<2 {
            let onehot = try Tensor(shape: [1, 2], values: (0..<2).map { Float($0 == k ? 1 : 0) })
            tiles.append(try g.forward(image, condition: onehot, context: ForwardContext(backend: Backends.direct)))
        }
        var worst = 0
        for (column, tile) in tiles.enumerated() {
            let expected = tile.quantized(.round)
            for y in 0..<32 {
                for x in 0..<32 {
                    for c in 0..<3 {
                        let got = Int(second.samples[((32 + y) * 96 + column * 32 + x) * 3 + c])
                        worst = max(worst, abs(got - Int(expected.samples[(y * 32 + x) * 3 + c])))
                    }
                }
            }
        }
        #expect(worst <= 1, "result tiles differ from G's output by \(worst) levels")
        // An earlier checkpoint by iteration, as the solver's --test_iters.
        #expect(try StarGANTester(run: run, iteration: "2").checkpoint.lastPathComponent == "2-G.ckpt")
        #expect { try StarGANTester(run: run, iteration: "3") } throws: { "\($0)".contains("3-G.ckpt does not exist") }
    }

    /// CelebA tables: the test images are the solver's held-out lines, in its order, with their labels.
    @Test func celebATestSplitIsTheHeldOutLines() throws {
        let dir = try TemporaryDirectory()
        let n = 2010
        let order = try #require(try PythonRandomTests.fixture().shuffles["2010"])
        var table = "\(n)\nMale Young\n"
        for i in 0..<n {
            table += "img_\(i).jpg \(i % 3 == 0 ? 1 : -1) 1\n"
            try dir.write("data/img_\(i).jpg", Data())
        }
        try dir.write("list_attr.txt", table)
        let test = try StarGANDataset(folder: dir.path("data"), attributeTable: dir.path("list_attr.txt"), selected: ["Male"],
                                      cropSize: 8, imageSize: 8, flip: false, holdOut: .auto, split: .test)
        #expect(test.count == 1999)
        #expect(PythonRandomTests.firstDifference(test.files.map { URL(fileURLWithPath: $0).lastPathComponent },
                                                  order.prefix(1999).map { "img_\($0).jpg" }) == nil)
        #expect(PythonRandomTests.firstDifference(test.labels, order.prefix(1999).map { [$0 % 3 == 0 ? 1 : 0] }) == nil)
    }
}
