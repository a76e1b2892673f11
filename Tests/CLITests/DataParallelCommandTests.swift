import Checkpoints
import Foundation
import Testing
import TestSupport

/// `mpirun -np N gantry train`: N ranks at a global batch train what one rank does at that batch
/// (the first step's gradients, every logged loss), the run folder is written once, and what the
/// ranks cannot do together yet is refused by rank 0 in one line before anything is written.
struct DataParallelCommandTests {
    static func launch(_ ranks: Int, _ arguments: [String]) throws -> CommandResult? {
        try DistributedCommandTests.launch(ranks, arguments)
    }

    func pairs(_ dir: TemporaryDirectory, count: Int) throws {
        for i in 0..<count { try dir.write("pairs/train/\(i).png", try TestImages.png(width: 64, height: 32, seed: i)) }
    }

    func unpaired(_ dir: TemporaryDirectory) throws {
        for i in 0..<4 { try dir.write("unpaired/trainA/\(i).png", try TestImages.png(width: 40, height: 36, seed: i)) }
        for i in 0..<4 { try dir.write("unpaired/trainB/\(i).png", try TestImages.png(width: 36, height: 40, seed: 10 + i)) }
    }

    /// pix2pix with dropout on, and BatchNorm (synchronised over the ranks) unless `norm` says otherwise.
    func pix2pix(_ dir: TemporaryDirectory, run: String, epochs: Int = 1, decay: Int = 1, norm: String = "batch") -> [String] {
        ["train", "pix2pix", "--data", dir.path("pairs"), "--run", dir.path(run), "--net-g", "unet_128", "--ngf", "4", "--ndf", "4",
         "--norm", norm, "--load-size", "128", "--crop-size", "128", "--n-epochs", "\(epochs)", "--n-epochs-decay", "\(decay)",
         "--batch-size", "2", "--seed", "3", "--threads", "1"]
    }

    /// CycleGAN with a pool of 3, so that over 4 iterations of 2 it fills and then swaps.
    func cyclegan(_ dir: TemporaryDirectory, run: String) -> [String] {
        ["train", "cyclegan", "--data", dir.path("unpaired"), "--run", dir.path(run), "--net-g", "resnet_6blocks", "--ngf", "4",
         "--ndf", "4", "--load-size", "36", "--crop-size", "32", "--n-epochs", "1", "--n-epochs-decay", "1", "--pool-size", "3",
         "--batch-size", "2", "--seed", "3", "--threads", "1"]
    }

    /// Every loss of every logged iteration, relative difference (floor 1e-3 absolute).
    func largestLossDifference(_ a: String, _ b: String) throws -> Double {
        func records(_ path: String) throws -> [[String: Any]] {
            try String(contentsOfFile: path + "/losses.jsonl", encoding: .utf8).split(separator: "\n")
                .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        }
        let x = try records(a), y = try records(b)
        #expect(x.count == y.count && !x.isEmpty)
        var worst = 0.0
        for (p, q) in zip(x, y) {
            #expect(p["iter"] as? Int == q["iter"] as? Int && p["epoch"] as? Int == q["epoch"] as? Int)
            for (key, value) in p where !["epoch", "iter", "lr", "time_s"].contains(key) {
                let u = try #require(value as? Double), v = try #require(q[key] as? Double)
                worst = max(worst, abs(u - v) / max(abs(u), 1e-3))
            }
        }
        return worst
    }

    /// The ranks' first step, gradient by gradient: after one Adam step with β₁ 0.5 the state's
    /// exp_avg is half the gradient, so the resumable state records every gradient.
    @Test(arguments: ["batch", "instance"])
    func twoRanksTakeOneRanksFirstStep(norm: String) throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 2)
        guard let one = try Self.launch(1, pix2pix(dir, run: "one", decay: 0, norm: norm)),
              let two = try Self.launch(2, pix2pix(dir, run: "two", decay: 0, norm: norm)) else { return }
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
        func state(_ run: String) throws -> StateDict {
            let file = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("\(run)/resume")).first { $0.hasPrefix("optimizers.") })
            return try Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("\(run)/resume/\(file)"))).stateDict
        }
        let a = try state("one"), b = try state("two")
        let gradients = a.keys.filter { $0.contains("/exp_avg/") }
        #expect(gradients.count > 20 && Array(a.keys) == Array(b.keys))
        // Summed in another order: float32 rounding, relative to the network's largest gradient
        // (a bias before instance norm has a gradient of 0 up to rounding, so its own scale is noise).
        for network in ["G/", "D/"] {
            let keys = gradients.filter { $0.hasPrefix(network) }
            let scale = keys.flatMap { a[$0]!.values.map { abs($0) } }.max() ?? 0
            for key in keys {
                let worst = zip(a[key]!.values, b[key]!.values).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-5 * scale, "\(key): \(worst), the network's largest gradient \(scale)")
            }
        }
        #expect(try largestLossDifference(dir.path("one"), dir.path("two")) < 1e-5)
        if norm == "batch" {
            // The running statistics are the global batch's, on every rank alike.
            func buffers(_ run: String) throws -> StateDict {
                try Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("\(run)/latest_net_G.pth"))).stateDict
            }
            let x = try buffers("one"), y = try buffers("two")
            for key in x.keys where key.hasSuffix("running_var") || key.hasSuffix("running_mean") {
                let worst = zip(x[key]!.values, y[key]!.values).map { abs($0 - $1) / max(abs($0), 1e-3) }.max() ?? 0
                #expect(worst < 1e-5, "\(key): \(worst)")
            }
        }
    }

    /// Whole runs, losses at every iteration: pix2pix (dropout drawn per global sample) and
    /// CycleGAN. The rounding of a different summation order grows through Adam's steps; a
    /// wrong share, slice or draw shows at 1e-2 and more.
    @Test func twoRanksTrainWhatOneRankTrains() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 6)
        try unpaired(dir)
        let commands: [(String, (String) -> [String])] = [("pix2pix", { pix2pix(dir, run: $0) }), ("cyclegan", { cyclegan(dir, run: $0) })]
        for (name, command) in commands {
            guard let one = try Self.launch(1, command("\(name)-1")), let two = try Self.launch(2, command("\(name)-2")) else { return }
            #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
            #expect(try largestLossDifference(dir.path("\(name)-1"), dir.path("\(name)-2")) < 1e-4, "\(name)")
            // One writer: one training line and one finish line; rank 1 is quiet.
            #expect(two.stdout.components(separatedBy: "finished;").count == 2, "\(two.stdout)")
        }
        // A run started without mpirun draws its crops from one stream, as before: it is not this run.
        let plain = try runGantry(pix2pix(dir, run: "plain"))
        #expect(plain.status == 0)
        #expect(try largestLossDifference(dir.path("pix2pix-1"), dir.path("plain")) > 1e-4)
    }

    @Test func whatTheRanksCannotDoTogetherIsOneLineAndNoRunFolder() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 2)
        let cases: [([String], String)] = [
            (pix2pix(dir, run: "odd").map { $0 == "2" ? "3" : $0 }, "must split evenly over the 2 ranks"),
            (["train", "stargan", "--data", dir.path("pairs"), "--run", dir.path("stargan"), "--batch-size", "2"], "stargan"),
            (pix2pix(dir, run: "missing").map { $0 == dir.path("pairs") ? dir.path("nothing") : $0 }, "nothing"),
        ]
        for (arguments, expected) in cases {
            guard let r = try Self.launch(2, arguments) else { return }
            #expect(r.status != 0)
            let lines = r.stderr.split(separator: "\n").filter { $0.contains("gantry: error:") }
            #expect(lines.count == 1 && lines[0].contains(expected), "\(expected): \(r.stderr)")
            let run = try #require(arguments.firstIndex(of: "--run").map { arguments[$0 + 1] })
            #expect(!FileManager.default.fileExists(atPath: run), "\(run) was written")
        }
    }

    /// One rank's data differs from the others' (another host's copy): rank 0 names it, nothing is written.
    @Test func differentDataOnOneRankIsRefused() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 2)
        try dir.write("other/train/0.png", try TestImages.png(width: 64, height: 32, seed: 0))
        try dir.write("other/train/1.png", try TestImages.png(width: 64, height: 32, seed: 7))
        try dir.write("other/train/2.png", try TestImages.png(width: 64, height: 32, seed: 8))
        // Rank 1 reads --data from its environment, as a host with another mount would.
        let script = dir.path("rank.sh")
        try dir.write("rank.sh", Data("#!/bin/sh\nd=\(dir.path("pairs")); [ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && d=\(dir.path("other"))\nexec \(gantryExecutable.path) train pix2pix --data \"$d\" --run \(dir.path("run")) --net-g unet_128 --ngf 4 --ndf 4 --norm instance --load-size 128 --crop-size 128 --batch-size 2\n".utf8))
        chmod(script, 0o755)
        guard let mpirun = DistributedCommandTests.mpirun(for: "different data") else { return }
        let r = try runCommand(mpirun, ["-np", "2", "--oversubscribe", "--bind-to", "none", script],
                               environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("gantry: error:") }
        #expect(lines.count == 1 && lines[0].contains("rank 1") && lines[0].contains("other data under --data")
                && lines[0].contains("rank 0: 2 files; rank 1: 3 files"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("run")))
    }
}
