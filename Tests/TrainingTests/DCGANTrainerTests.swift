import Checkpoints
import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// A DCGAN run folder over time: stopped anywhere and continued, a run is the run that
/// was never stopped.
struct DCGANTrainerTests {
    static func options(_ dir: TemporaryDirectory, extra: [(String, String)] = []) throws -> TrainingOptions {
        try TrainingOptions.resolve(.dcgan, flags: [
            ("data", dir.path("faces")), ("run", dir.path("run")), ("nz", "8"), ("ngf", "4"), ("ndf", "4"),
            ("batch-size", "3"), ("n-epochs", "3"), ("seed", "5"),
            // The penalty (through batch norm) and n_critic exercise every random draw and counter.
            ("gan-mode", "wgangp"), ("n-critic", "2"),
        ] + extra)
    }

    static func faces(_ dir: TemporaryDirectory) throws {
        for i in 0..<8 { try dir.write("faces/\(i).png", try TestImages.png(width: 72, height: 64, seed: i)) }
    }

    /// 8 images in batches of 3 (the last of 2): stopped after 4 iterations (inside epoch 2) or
    /// after 3 (at epoch 1's end, after its checkpoints), then continued, both networks end bit for bit as in an
    /// uninterrupted run, and the loss log has the same lines.
    @Test(arguments: [4, 3])
    func continuesExactly(stopAfter: Int) throws {
        let a = try TemporaryDirectory(), b = try TemporaryDirectory()
        try Self.faces(a)
        try Self.faces(b)
        try Trainer(try Self.options(a), backend: Backends.direct).train()
        var calls = 0
        let first = try Trainer(try Self.options(b), backend: Backends.direct)
        let outcome = try first.train(until: { calls += 1; return calls == stopAfter })
        #expect(outcome == (stopAfter == 4 ? .stopped(epoch: 2, images: 3) : .stopped(epoch: 2, images: 0)))
        let second = try Trainer(try Self.options(b, extra: [("continue", "true")]), backend: Backends.direct)
        #expect(second.nextEpoch == 2)
        try second.train()
        for name in ["G", "D"] {
            let differing = try differingTensors(URL(fileURLWithPath: a.path("run/latest_net_\(name).pth")),
                                                 URL(fileURLWithPath: b.path("run/latest_net_\(name).pth")))
            #expect(differing.isEmpty, "\(name): \(differing)")
        }
        let timeless = { (url: String) in
            // As written (a critic-only iteration's Loss_G is null: NaN ≠ NaN in a comparison).
            try LossLog.read(URL(fileURLWithPath: url)).map { r -> String in var r = r; r.seconds = 0; return r.jsonLine }
        }
        let expected = try timeless(a.path("run/losses.jsonl"))
        #expect(expected.count == 9)
        #expect(try timeless(b.path("run/losses.jsonl")) == expected)
        #expect(FileManager.default.fileExists(atPath: b.path("run/samples/epoch_003.png")))
    }

    /// Continuing a run that saved nothing, or over different data, is one error naming the file.
    @Test func continueRefusesWhatDoesNotFit() throws {
        let dir = try TemporaryDirectory()
        try Self.faces(dir)
        try FileManager.default.createDirectory(atPath: dir.path("run"), withIntermediateDirectories: true)
        #expect { _ = try Trainer(try Self.options(dir, extra: [("continue", "true")]), backend: Backends.direct) } throws: {
            "\($0)".contains("latest_net_G.pth does not exist; drop --continue")
        }
        var calls = 0
        let first = try Trainer(try Self.options(dir), backend: Backends.direct)
        _ = try first.train(until: { calls += 1; return calls == 2 })
        try FileManager.default.removeItem(atPath: dir.path("faces/7.png"))
        #expect { _ = try Trainer(try Self.options(dir, extra: [("continue", "true")]), backend: Backends.direct) } throws: {
            "\($0)".contains("does not fit the 7 images")
        }
    }

    /// Data that cannot be read at all stops the run with one error naming a file (a pass that
    /// yields no batch would otherwise repeat for ever), and a fresh run leaves no files.
    @Test func unreadableDataStopsTheRun() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<3 { try dir.write("faces/\(i).png", "not a png") }
        let trainer = try Trainer(try Self.options(dir), backend: Backends.direct)
        var skipped = 0
        #expect { try trainer.train(report: { if case .skipped = $0 { skipped += 1 } }) } throws: {
            "\($0)".contains("no item of the data could be read in epoch 1") && "\($0)".contains(".png")
        }
        #expect(skipped == 3)
        #expect(!FileManager.default.fileExists(atPath: dir.path("run")))
    }
}
