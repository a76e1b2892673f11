import Checkpoints
import Engine
import Foundation
import Models
@testable import Runs
import TestSupport
import Testing
@testable import Training

/// `--ema`: the moving average's arithmetic on hand-computed numbers, what it saves and loads,
/// that drawing with it leaves the trained weights untouched, that `--continue` carries it on bit
/// for bit, and that `convert -m RUN` takes it.
struct GeneratorAverageTests {
    /// A layer whose weights a test sets: a 1×1 convolution with 2 weights and a bias, and a
    /// BatchNorm whose running statistics are buffers.
    func layer() throws -> (Sequential, Variable, Variable) {
        let net = Sequential([try Conv2d(2, 1, kernel: 1, bias: true), try Norm2d(.batch, channels: 1)])
        let p = net.parameters()
        return (net, p.first { $0.name == "0.weight" }!.variable, p.first { $0.name == "0.bias" }!.variable)
    }

    func set(_ v: Variable, _ values: [Float]) {
        v.data.withUnsafeMutableBufferPointer { w in for i in values.indices { w[i] = values[i] } }
    }

    @Test func averageFollowsTheDecayWithItsWarmUp() throws {
        let (net, weight, bias) = try layer()
        set(weight, [1, 2]); set(bias, [4])
        let average = GeneratorAverage(decay: 0.5, generators: [("G", net)])
        // Step 1: β = min(0.5, 1/10) = 0.1 → 0.1·start + 0.9·now.
        set(weight, [11, 2]); set(bias, [-6])
        average.update(step: 1)
        // Step 2: β = min(0.5, 2/11) = 2/11.
        set(weight, [0, 2]); set(bias, [0])
        average.update(step: 2)
        // Step 12: β = min(0.5, 12/21) = 0.5.
        set(weight, [4, 2]); set(bias, [2])
        average.update(step: 12)
        let w1: [Double] = [0.1 * 1 + 0.9 * 11, 2], b1 = 0.1 * 4 + 0.9 * -6
        let w2 = w1.map { $0 * 2 / 11 }.enumerated().map { $0.element + 9.0 / 11 * [0.0, 2][$0.offset] }, b2 = b1 * 2 / 11
        let w3 = zip(w2, [4.0, 2]).map { 0.5 * $0 + 0.5 * $1 }, b3 = 0.5 * b2 + 0.5 * 2
        let dir = try TemporaryDirectory()
        let run = RunFolder(dir.path("run"))
        try run.create()
        try average.save(in: run, epoch: "latest")
        let sd = try Checkpoint.load(contentsOf: run.networkURL(epoch: "latest", name: "G_ema")).stateDict
        #expect(Array(sd.keys) == Array(net.stateDict().keys), "the generator's keys, buffers included")
        for (got, want) in zip(sd["0.weight"]!.values, w3) { #expect(abs(Double(got) - want) < 1e-5, "\(got) vs \(want)") }
        #expect(abs(Double(sd["0.bias"]!.values[0]) - b3) < 1e-5)
        #expect(sd["1.running_var"]!.values == net.stateDict()["1.running_var"]!.values)
        #expect(FileManager.default.fileExists(atPath: dir.path("run/latest_net_G_ema.safetensors")))
        // The trained weights are as the test left them.
        #expect(weight.data.values == [4, 2] && bias.data.values == [2])
    }

    @Test func drawingWithTheAverageRestoresTheTrainedWeights() throws {
        let (net, weight, bias) = try layer()
        set(weight, [1, 2]); set(bias, [3])
        let average = GeneratorAverage(decay: 0.9, generators: [("G", net)])
        set(weight, [5, 6]); set(bias, [7])
        let seen = average.withAveragedWeights { (weight.data.values, bias.data.values) }
        #expect(seen.0 == [1, 2] && seen.1 == [3])
        #expect(weight.data.values == [5, 6] && bias.data.values == [7])
    }

    @Test func aFileOfAnotherNetworkIsRefused() throws {
        let (net, _, _) = try layer()
        let dir = try TemporaryDirectory()
        let other = Sequential([try Conv2d(3, 1, kernel: 1, bias: true)])
        let url = URL(fileURLWithPath: dir.path("other.pth"))
        try TorchWriter.write(other.stateDict(), to: url)
        let average = GeneratorAverage(decay: 0.9, generators: [("G", net)])
        #expect { try average.load("G", from: url) } throws: { "\($0)".contains("0.weight has shape [1, 3, 1, 1]") }
    }

    @Test func validationRefusesADecayOfOneOrMore() throws {
        let dir = try TemporaryDirectory()
        var options = TrainingOptions.defaults(for: .pix2pix)
        (options.data, options.run, options.ema) = (dir.path("d"), dir.path("r"), 1)
        #expect { try options.validate() } throws: { "\($0)".contains("--ema must be in [0, 1)") }
        #expect(throws: (any Error).self) { try TrainingOptions.resolve(.stargan, flags: [("data", "d"), ("run", "r"), ("ema", "0.9")]) }
    }

    func flags(_ dir: TemporaryDirectory, run: String) -> [(String, String)] {
        [("data", dir.path("data")), ("run", dir.path(run)), ("net-g", "unet_128"), ("ngf", "4"), ("ndf", "4"),
         ("load-size", "136"), ("crop-size", "128"), ("n-epochs", "1"), ("n-epochs-decay", "2"), ("save-epoch-freq", "1"),
         ("batch-size", "2"), ("seed", "5"), ("threads", "2"), ("ema", "0.99")]
    }

    @Test func aStoppedRunContinuesItsAverageExactlyAndConvertTakesIt() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<3 { try dir.write("data/train/\(i).png", try TestImages.png(width: 256, height: 128, seed: i)) }
        let whole = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags(dir, run: "whole")), backend: Backends.winograd)
        #expect(try whole.train() == .finished)
        let first = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags(dir, run: "split")), backend: Backends.winograd)
        var iterations = 0
        // Inside epoch 2 (two iterations an epoch): the stop saves mid-epoch.
        #expect(try first.train(until: { iterations == 3 }, report: { if case .iteration = $0 { iterations += 1 } }) == .stopped(epoch: 2, images: 2))
        let second = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags(dir, run: "split") + [("continue", "true")]), backend: Backends.winograd)
        #expect(try second.train() == .finished)
        for file in ["latest_net_G_ema.pth", "latest_net_G.pth", "3_net_G_ema.pth"] {
            let x = try Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("whole/\(file)"))).stateDict
            let y = try Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("split/\(file)"))).stateDict
            #expect(x.keys.allSatisfy { x[$0]!.values == y[$0]!.values }, "\(file) differs after --continue")
        }
        // The average is not the trained weights, and a numbered one is kept per saved epoch.
        let g = try Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("whole/latest_net_G.pth"))).stateDict
        let a = try Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("whole/latest_net_G_ema.pth"))).stateDict
        #expect(Array(g.keys) == Array(a.keys))
        #expect(g.keys.contains { g[$0]!.values != a[$0]!.values })
        #expect(FileManager.default.fileExists(atPath: dir.path("whole/1_net_G_ema.pth")))
        let source = try GeneratorSource.resolve(URL(fileURLWithPath: dir.path("whole")), GeneratorRequest())
        #expect(source.url.lastPathComponent == "latest_net_G_ema.pth")
        #expect(source.summary.contains("G's moving average"))
        let numbered = try GeneratorSource.resolve(URL(fileURLWithPath: dir.path("whole")), GeneratorRequest(epoch: "2"))
        #expect(numbered.url.lastPathComponent == "2_net_G_ema.pth")
        _ = try numbered.load()
        let summary = try RunSummary(URL(fileURLWithPath: dir.path("whole"))).text
        #expect(summary.contains("ema 0.99") && summary.contains("moving average (--ema 0.99)"), "\(summary)")
    }
}
