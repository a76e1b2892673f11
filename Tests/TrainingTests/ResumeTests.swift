import Checkpoints
import Engine
import Foundation
import Imaging
import Models
@testable import Runs
import TestSupport
import Testing
@testable import Training

/// `--continue`: stopping and continuing computes bit for bit what an uninterrupted run does (at
/// an epoch's end and inside an epoch, with dropout, batch norm, shuffling, image pools and
/// batches above 1); a folder of PyTorch-made weights continues with fresh optimizer state.
struct ResumeTests {
    func alignedData(_ dir: TemporaryDirectory, count: Int, side: Int) throws {
        for i in 0..<count { try dir.write("data/train/\(i).png", try TestImages.png(width: 2 * side, height: side, seed: i)) }
    }

    func unalignedData(_ dir: TemporaryDirectory) throws {
        for i in 0..<3 { try dir.write("data/trainA/\(i).png", try TestImages.png(width: 40, height: 36, seed: i)) }
        for i in 0..<2 { try dir.write("data/trainB/\(i).png", try TestImages.png(width: 36, height: 40, seed: 10 + i)) }
    }

    func pix2pixFlags(_ dir: TemporaryDirectory, run: String) -> [(String, String)] {
        [("data", dir.path("data")), ("run", dir.path(run)), ("net-g", "unet_128"), ("ngf", "4"), ("ndf", "4"),
         ("load-size", "136"), ("crop-size", "128"), ("n-epochs", "1"), ("n-epochs-decay", "2"), ("save-epoch-freq", "1"),
         ("batch-size", "2"), ("seed", "5"), ("threads", "2")]
    }

    func cycleganFlags(_ dir: TemporaryDirectory, run: String) -> [(String, String)] {
        [("data", dir.path("data")), ("run", dir.path(run)), ("net-g", "resnet_6blocks"), ("ngf", "4"), ("ndf", "4"),
         ("load-size", "36"), ("crop-size", "32"), ("n-epochs", "1"), ("n-epochs-decay", "1"), ("pool-size", "2"),
         ("seed", "9"), ("threads", "2"), ("no-dropout", "false")]
    }

    /// Every `latest_net_*` tensor and every loss-log value (but the timing) of two runs.
    func expectIdentical(_ a: String, _ b: String, networks: [String]) throws {
        for name in networks {
            let x = try Checkpoint.load(contentsOf: URL(fileURLWithPath: "\(a)/latest_net_\(name).pth")).stateDict
            let y = try Checkpoint.load(contentsOf: URL(fileURLWithPath: "\(b)/latest_net_\(name).pth")).stateDict
            #expect(Array(x.keys) == Array(y.keys))
            let differing = x.keys.filter { x[$0]!.values != y[$0]!.values }
            #expect(differing.isEmpty, "\(name): \(differing.prefix(5)) differ")
        }
        let la = try LossLog.read(URL(fileURLWithPath: "\(a)/losses.jsonl")), lb = try LossLog.read(URL(fileURLWithPath: "\(b)/losses.jsonl"))
        #expect(la.count == lb.count)
        for (x, y) in zip(la, lb) {
            #expect(x.epoch == y.epoch && x.iter == y.iter && x.lr == y.lr && x.losses.map(\.value) == y.losses.map(\.value),
                    "\(x.jsonLine) vs \(y.jsonLine)")
        }
    }

    @Test func pix2pixStoppedAtAnEpochEndContinuesExactly() throws {
        let dir = try TemporaryDirectory()
        try alignedData(dir, count: 3, side: 128)
        let whole = try Trainer(TrainingOptions.resolve(.pix2pix, flags: pix2pixFlags(dir, run: "whole")), backend: Backends.winograd)
        #expect(try whole.train() == .finished)

        let first = try Trainer(TrainingOptions.resolve(.pix2pix, flags: pix2pixFlags(dir, run: "split")), backend: Backends.winograd)
        // Asked at the epoch's last iteration: the epoch finishes, then the run stops.
        var iterations = 0
        let outcome = try first.train(until: { iterations == 2 }, report: { if case .iteration = $0 { iterations += 1 } })
        #expect(outcome == .stopped(epoch: 2, images: 0))
        let second = try Trainer(TrainingOptions.resolve(.pix2pix, flags: pix2pixFlags(dir, run: "split") + [("continue", "true")]),
                                 backend: Backends.winograd)
        #expect(second.nextEpoch == 2)
        #expect(second.notes.contains { $0.contains("continuing exactly at epoch 2") }, "\(second.notes)")
        #expect(try second.train() == .finished)
        try expectIdentical(dir.path("whole"), dir.path("split"), networks: ["G", "D"])
        // Batches of 2 over 3 images: two iterations an epoch, the second with one image.
        let records = try LossLog.read(URL(fileURLWithPath: dir.path("split/losses.jsonl")))
        #expect(records.map(\.iter) == [2, 3, 2, 3, 2, 3])
    }

    @Test func cycleGANStoppedInsideAnEpochContinuesExactly() throws {
        let dir = try TemporaryDirectory()
        try unalignedData(dir)
        let whole = try Trainer(TrainingOptions.resolve(.cyclegan, flags: cycleganFlags(dir, run: "whole")), backend: Backends.winograd)
        try whole.train()

        let first = try Trainer(TrainingOptions.resolve(.cyclegan, flags: cycleganFlags(dir, run: "split")), backend: Backends.winograd)
        var iterations = 0
        let outcome = try first.train(until: { iterations == 4 }, report: { if case .iteration = $0 { iterations += 1 } })
        #expect(outcome == .stopped(epoch: 2, images: 1))
        let state = try String(contentsOfFile: dir.path("split/state.json"), encoding: .utf8)
        #expect(state.contains("\"interrupted\" : true") && state.contains("\"epochs_done\" : 1"), "\(state)")
        // A kill after the save may leave log lines past it: the continued run drops them.
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path("split/losses.jsonl")))
        try log.seekToEnd()
        try log.write(contentsOf: Data("{\"epoch\":2,\"iter\":2,\"lr\":1,\"D_A\":0,\"time_s\":0}\n{\"epo".utf8))
        try log.close()

        let second = try Trainer(TrainingOptions.resolve(.cyclegan, flags: cycleganFlags(dir, run: "split") + [("continue", "true")]),
                                 backend: Backends.winograd)
        #expect(second.notes.contains { $0.contains("in epoch 2 after 1 of 3 images") }, "\(second.notes)")
        try second.train()
        try expectIdentical(dir.path("whole"), dir.path("split"), networks: ["G_A", "G_B", "D_A", "D_B"])
        // Only the current generation's files stay under resume/.
        let resume = try FileManager.default.contentsOfDirectory(atPath: dir.path("split/resume"))
        #expect(resume.count == 6, "\(resume.sorted())")
    }

    /// FastCUT stopped inside an epoch: its flips and patch draws come from the same random
    /// stream as an uninterrupted run's, and F's optimizer state is saved with G's and D's.
    @Test func fastCUTStoppedInsideAnEpochContinuesExactly() throws {
        let dir = try TemporaryDirectory()
        try unalignedData(dir)
        func flags(_ run: String) -> [(String, String)] {
            [("data", dir.path("data")), ("run", dir.path(run)), ("net-g", "resnet_6blocks"), ("ngf", "4"), ("ndf", "4"),
             ("preprocess", "none"), ("n-epochs", "2"), ("n-epochs-decay", "1"), ("num-patches", "16"), ("netf-nc", "8"), ("seed", "5")]
        }
        try Trainer(TrainingOptions.resolve(.fastcut, flags: flags("whole")), backend: Backends.winograd).train()
        let first = try Trainer(TrainingOptions.resolve(.fastcut, flags: flags("split")), backend: Backends.winograd)
        var iterations = 0
        let outcome = try first.train(until: { iterations == 4 }, report: { if case .iteration = $0 { iterations += 1 } })
        #expect(outcome == .stopped(epoch: 2, images: 1))
        let second = try Trainer(TrainingOptions.resolve(.fastcut, flags: flags("split") + [("continue", "true")]), backend: Backends.winograd)
        try second.train()
        try expectIdentical(dir.path("whole"), dir.path("split"), networks: ["G", "F", "D"])
    }

    @Test func continuesFromAFolderPyTorchWrote() throws {
        let dir = try TemporaryDirectory()
        try alignedData(dir, count: 2, side: 128)
        let run = dir.url.appendingPathComponent("run")
        try FileManager.default.copyItem(at: fixturesDirectory.appendingPathComponent("training/pytorch_run"), to: run)
        let flags: [(String, String)] = [("data", dir.path("data")), ("run", run.path), ("net-g", "unet_128"), ("ngf", "2"), ("ndf", "2"),
                                         ("preprocess", "crop"), ("load-size", "128"), ("crop-size", "128"), ("n-epochs", "4"),
                                         ("n-epochs-decay", "0"), ("save-epoch-freq", "2"), ("continue", "true")]
        let latest = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags), backend: Backends.winograd)
        #expect(latest.nextEpoch == 1)
        #expect(latest.notes.contains { $0.contains("latest weights with fresh optimizer state") }, "\(latest.notes)")
        // What PyTorch saved is what the networks hold, buffers included.
        let saved = try Checkpoint.load(contentsOf: run.appendingPathComponent("latest_net_G.pth")).stateDict
        try latest.run.saveNetworks(Array(latest.recipe.networks.prefix(1)), epoch: "check")
        let loaded = try Checkpoint.load(contentsOf: run.appendingPathComponent("check_net_G.pth")).stateDict
        #expect(saved.keys.allSatisfy { saved[$0]!.values == loaded[$0]!.values })

        let third = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags + [("epoch", "3")]), backend: Backends.winograd)
        #expect(third.nextEpoch == 4)
        #expect(third.notes.contains { $0.contains("no 3_net_D.pth: D starts from freshly initialised weights") }, "\(third.notes)")
        #expect(try third.train() == .finished)
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("4_net_G.pth").path))
        #expect(try LossLog.read(run.appendingPathComponent("losses.jsonl")).allSatisfy { $0.epoch == 4 })

        #expect(throws: TrainingError.self) {
            _ = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags + [("epoch", "7")]), backend: Backends.winograd)
        }
    }

    @Test func anUndecodableFileMidRunIsSkippedAndCounted() throws {
        let dir = try TemporaryDirectory()
        try alignedData(dir, count: 3, side: 128)
        let options = try TrainingOptions.resolve(.pix2pix, flags: pix2pixFlags(dir, run: "run") + [("batch-size", "1"), ("n-epochs-decay", "0")])
        let trainer = try Trainer(options, backend: Backends.direct)
        // Broken after the up-front check, as a disk or a sync tool might.
        try dir.write("data/train/1.png", Data("not a png any more".utf8))
        var skipped: [String] = [], iterations = 0
        try trainer.train(report: { event in
            if case .skipped(let message) = event { skipped.append(message) }
            if case .iteration = event { iterations += 1 }
        })
        #expect(iterations == 2)
        #expect(skipped.count == 1 && skipped[0].contains("1.png"), "\(skipped)")
        let state = try String(contentsOfFile: dir.path("run/state.json"), encoding: .utf8)
        #expect(state.contains("\"skipped_count\" : 1"))
    }

    @Test func aDamagedStateFileIsOneClearError() throws {
        let dir = try TemporaryDirectory()
        try alignedData(dir, count: 2, side: 128)
        let flags = pix2pixFlags(dir, run: "run") + [("n-epochs-decay", "0")]
        try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags), backend: Backends.direct).train()
        let saved = try String(contentsOfFile: dir.path("run/state.json"), encoding: .utf8)
        // A counter edited to something huge is refused, not carried into arithmetic.
        try dir.write("run/state.json", saved.replacing(/"iterations" : \d+/, with: "\"iterations\" : 9000000000000000000"))
        let huge = #expect(throws: TrainingError.self) {
            _ = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags + [("continue", "true")]), backend: Backends.direct)
        }
        #expect("\(huge!)".contains("counters are inconsistent"), "\(huge!)")
        try dir.write("run/state.json", "{\"format\": 1, \"model\": ")
        let error = #expect(throws: TrainingError.self) {
            _ = try Trainer(TrainingOptions.resolve(.pix2pix, flags: flags + [("continue", "true")]), backend: Backends.direct)
        }
        #expect("\(error!)".contains("state.json"))
    }
}
