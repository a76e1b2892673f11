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

    /// Two ranks, each started through the shell script `script` (written to dir/rank.sh), which
    /// may treat rank 1 differently (`$OMPI_COMM_WORLD_RANK`), as another host would; nil when
    /// mpirun is missing (already reported).
    static func launchScript(_ dir: TemporaryDirectory, _ script: String, check: String) throws -> CommandResult? {
        try dir.write("rank.sh", "#!/bin/sh\n" + script + "\n")
        chmod(dir.path("rank.sh"), 0o755)
        guard let mpirun = DistributedCommandTests.mpirun(for: check) else { return nil }
        return try runCommand(mpirun, ["-np", "2", "--oversubscribe", "--bind-to", "none", dir.path("rank.sh")],
                              environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
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
        guard try expectSameFirstStep(dir, { pix2pix(dir, run: $0, decay: 0, norm: norm) }) else { return }
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

    /// DCGAN (noise drawn for the global batch, BatchNorm synchronised), WGAN-GP (the penalty's
    /// mixing weights drawn for the global batch) and StarGAN (target labels permuted over the
    /// global batch, its penalty too), one iteration each.
    @Test(arguments: ["dcgan", "wgangp", "stargan"])
    func otherObjectivesTakeOneRanksFirstStep(kind: String) throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 2)
        for i in 0..<4 { try dir.write("domains/\(["a", "b"][i % 2])/\(i).png", try TestImages.png(width: 40, height: 40, seed: i)) }
        let command: (String) -> [String] = switch kind {
        case "dcgan": { ["train", "dcgan", "--data", dir.path("pairs"), "--run", dir.path($0), "--ngf", "4", "--ndf", "4", "--nz", "8",
                         "--n-epochs", "1", "--batch-size", "2", "--seed", "3", "--threads", "1"] }
        // StarGAN: the target labels are a permutation of the global batch's; one iteration.
        case "stargan": { ["train", "stargan", "--data", dir.path("domains"), "--run", dir.path($0), "--ngf", "4", "--ndf", "4",
                           "--crop-size", "32", "--image-size", "32", "--d-repeat-num", "3", "--g-repeat-num", "1",
                           "--num-iters", "1", "--num-iters-decay", "0", "--n-critic", "1", "--batch-size", "4", "--seed", "3", "--threads", "1"] }
        default: { pix2pix(dir, run: $0, decay: 0, norm: "instance") + ["--gan-mode", "wgangp"] }
        }
        try expectSameFirstStep(dir, command)
    }

    /// Runs `command(run)` on one rank and on two, one iteration, and compares every gradient of
    /// the first step and the losses; false when mpirun is missing (already reported).
    @discardableResult
    func expectSameFirstStep(_ dir: TemporaryDirectory, _ command: (String) -> [String]) throws -> Bool {
        guard let one = try Self.launch(1, command("one")), let two = try Self.launch(2, command("two")) else { return false }
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
        func state(_ run: String) throws -> StateDict {
            let file = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("\(run)/resume")).first { $0.hasPrefix("optimizers.") })
            return try Checkpoint.load(contentsOf: URL(fileURLWithPath: dir.path("\(run)/resume/\(file)"))).stateDict
        }
        let a = try state("one"), b = try state("two")
        let words = command("x"), option = { (name: String) in words.firstIndex(of: name).map { " \(name) \(words[$0 + 1])" } ?? "" }
        let label = words[1] + option("--norm") + option("--gan-mode")
        let gradients = a.keys.filter { $0.contains("/exp_avg/") }
        #expect(gradients.count > 20 && Array(a.keys) == Array(b.keys))
        // Summed in another order: float32 rounding, relative to the network's largest gradient
        // (a bias before instance norm has a gradient of 0 up to rounding, so its own scale is noise).
        for network in ["G/", "D/"] {
            let keys = gradients.filter { $0.hasPrefix(network) }
            let scale = keys.flatMap { a[$0]!.values.map { abs($0) } }.max() ?? 0
            // For docs/scaling.md, beside the float32-vs-float64 noise of the fixtures' first steps.
            // (A bias before instance norm has a zero gradient in exact arithmetic, rounding in
            // float32: its difference is measured against the network's largest gradient.)
            let networkScale = keys.map { l2(a[$0]!.values) }.max() ?? 0
            let relative = keys.map { key -> Double in
                let x = a[key]!.values, y = b[key]!.values, difference = l2(zip(x, y).map { $0 - $1 })
                return l2(x) <= 1e-5 * networkScale ? difference / networkScale : difference / l2(x)
            }.sorted()
            print("data parallel first step, \(label) \(network): gradients' relative L2, 2 ranks vs 1: median \(relative[relative.count / 2]), max \(relative.last ?? 0) over \(keys.count) tensors")
            // float32 noise: torch's own float32 first steps lie up to 4.6e-6 (relative L2) from
            // their float64 runs (Tests/Fixtures/training, `noise.*`: pix2pix 1.7e-6, colorization 4.6e-6).
            #expect((relative.last ?? 0) <= 1e-5, "\(label) \(network): 2 ranks differ from 1 by \(relative.last ?? 0) (relative L2)")
            for key in keys {
                let worst = zip(a[key]!.values, b[key]!.values).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-5 * scale, "\(key): \(worst), the network's largest gradient \(scale)")
            }
        }
        #expect(try largestLossDifference(dir.path("one"), dir.path("two")) < 1e-5)
        return true
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
            (pix2pix(dir, run: "gp").map { $0 == "instance" ? "batch" : $0 } + ["--gan-mode", "wgangp"], "wgangp with --norm batch"),
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

    /// Rank 1 started with another option (a host with an older job script): rank 0 names the
    /// option and both values; nothing is written.
    @Test func differentOptionsOnOneRankAreRefused() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 2)
        let command = pix2pix(dir, run: "run").map { "'\($0)'" }.joined(separator: " ")
        guard let r = try Self.launchScript(dir, "extra=; [ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && extra='--lambda-l1 50'\nexec \(gantryExecutable.path) \(command) $extra",
                                            check: "different options") else { return }
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("gantry: error:") }
        #expect(lines.count == 1 && lines[0].contains("rank 1") && lines[0].contains("in its options")
                && lines[0].contains("lambda-l1: 100.0") && lines[0].contains("lambda-l1: 50.0"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("run")))
    }

    /// A damaged file in the data: every rank finds it when it scans the folder, and rank 0 names
    /// it in one line before anything is written. (A file that fails only mid-run stops every rank
    /// through the per-iteration agreement; no test makes one here: the scan reads PNGs whole.)
    @Test func aDamagedFileIsOneLineOnEveryRank() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 5)
        // A PNG cut short: it passes the scan of the folder and fails when decoded.
        try dir.write("pairs/train/5.png", try TestImages.png(width: 64, height: 32, seed: 5).prefix(120))
        guard let r = try Self.launch(2, pix2pix(dir, run: "run")) else { return }
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("gantry: error:") }
        #expect(lines.count == 1 && lines[0].contains("5.png") && lines[0].contains("truncated"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("run")))
    }

    /// Rank 1 runs another build of gantry (here: the same file with one byte more, as a host
    /// with an older container image would): rank 0 says so in one line; nothing is written.
    @Test func anotherBinaryOnOneRankIsRefused() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 2)
        var other = try Data(contentsOf: gantryExecutable)
        other.append(0)
        try other.write(to: URL(fileURLWithPath: dir.path("gantry-other")))
        chmod(dir.path("gantry-other"), 0o755)
        let command = pix2pix(dir, run: "run").map { "'\($0)'" }.joined(separator: " ")
        guard let r = try Self.launchScript(dir, "bin=\(gantryExecutable.path); [ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && bin=\(dir.path("gantry-other"))\nexec \"$bin\" \(command)",
                                            check: "another binary") else { return }
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("gantry: error:") }
        #expect(lines.count == 1 && lines[0].contains("rank 1") && lines[0].contains("in its gantry binary")
                && lines[0].contains("bytes") && lines[0].contains("same gantry build"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("run")))
    }

    /// Rank 1's disk starts failing mid-run (reads under the data fail with EIO, through the
    /// test-only fault seam): every rank stops within an iteration, rank 0 names rank 1, its host
    /// and the file in one line, the run folder keeps its last save and no temporary file, and
    /// once the disk is back `--continue` finishes the run.
    @Test func aFileThatFailsMidRunStopsEveryRankAndTheRunContinues() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 4)
        try dir.write("fault", "")
        let command = pix2pix(dir, run: "run", epochs: 400, decay: 0).map { "'\($0)'" }.joined(separator: " ")
        try dir.write("rank.sh", "#!/bin/sh\n[ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && export GANTRY_TEST_FAULT_FILE=\(dir.path("fault"))\nexec \(gantryExecutable.path) \(command)\n")
        chmod(dir.path("rank.sh"), 0o755)
        guard let mpirun = DistributedCommandTests.mpirun(for: "a file failing mid-run") else { return }
        let job = try SpawnedProcess(mpirun, ["-np", "2", "--oversubscribe", "--bind-to", "none", dir.path("rank.sh")],
                                     environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"],
                                     output: dir.path("job.log"))
        // Two epochs in (2 iterations each, saved every epoch), rank 1's reads start failing.
        let log = dir.path("run/losses.jsonl"), deadline = Date().addingTimeInterval(120)
        while Date() < deadline, job.isRunning, ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count < 5 {
            usleep(20_000)
        }
        try dir.write("fault", "EIO pairs/train/")
        let status = job.wait()
        let output = try String(contentsOfFile: dir.path("job.log"), encoding: .utf8)
        // A disk fault, not bad data: EX_TEMPFAIL, and the hint says to clear it and continue.
        #expect(status == 75, "\(output)")
        let lines = output.split(separator: "\n").filter { $0.contains("gantry: error:") }
        #expect(lines.count == 1 && lines[0].contains("rank 1 of 2 (on ") && lines[0].contains("pairs/train/")
                && lines[0].contains("Input/output error") && lines[0].contains("a disk fault, not bad data: check the disk or share, then --continue"), "\(output)")
        let records = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count
        #expect(records < 800, "the job did not stop (\(records) iterations logged)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path("run")).filter { $0.contains(".tmp") || $0.hasPrefix(".") }
        #expect(left.isEmpty, "temporary files left: \(left)")
        try FileManager.default.removeItem(atPath: dir.path("fault"))
        guard let resumed = try Self.launch(2, ["train", "pix2pix", "--run", dir.path("run"), "--continue", "--n-epochs", "\(records / 2 + 2)"]) else { return }
        #expect(resumed.status == 0 && resumed.stderr.contains("continuing exactly"), "\(resumed.stderr)")
    }

    /// One rank's data differs from the others' (another host's copy): rank 0 names it, nothing is written.
    @Test func differentDataOnOneRankIsRefused() throws {
        let dir = try TemporaryDirectory()
        try pairs(dir, count: 2)
        try dir.write("other/train/0.png", try TestImages.png(width: 64, height: 32, seed: 0))
        try dir.write("other/train/1.png", try TestImages.png(width: 64, height: 32, seed: 7))
        try dir.write("other/train/2.png", try TestImages.png(width: 64, height: 32, seed: 8))
        // Rank 1 reads --data from its environment, as a host with another mount would.
        guard let r = try Self.launchScript(dir, "d=\(dir.path("pairs")); [ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && d=\(dir.path("other"))\nexec \(gantryExecutable.path) train pix2pix --data \"$d\" --run \(dir.path("run")) --net-g unet_128 --ngf 4 --ndf 4 --norm instance --load-size 128 --crop-size 128 --batch-size 2",
                                            check: "different data") else { return }
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("gantry: error:") }
        #expect(lines.count == 1 && lines[0].contains("rank 1") && lines[0].contains("in its data under --data")
                && lines[0].contains("rank 0: 2 files; rank 1: 3 files"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("run")))
    }
}

/// Stopping and continuing a data-parallel run: SIGTERM to mpirun stops every rank after the
/// same iteration with one save; `--continue` on as many ranks is bit for bit the uninterrupted
/// run, on another number of ranks the same training within rounding; a rank that dies ends the
/// job, which continues from its last save.
struct DataParallelStopTests {
    func arguments(_ dir: TemporaryDirectory, run: String, epochs: Int) -> [String] {
        ["train", "pix2pix", "--data", dir.path("pairs"), "--run", dir.path(run), "--net-g", "unet_128", "--ngf", "4", "--ndf", "4",
         "--load-size", "128", "--crop-size", "128", "--n-epochs", "\(epochs)", "--n-epochs-decay", "0", "--batch-size", "2",
         "--seed", "3", "--threads", "1", "--ema", "0.9"]
    }

    func data(_ dir: TemporaryDirectory) throws {
        for i in 0..<6 { try dir.write("pairs/train/\(i).png", try TestImages.png(width: 64, height: 32, seed: i)) }
    }

    /// mpirun in the background until `log` has `lines` lines, then `signal` to mpirun or to
    /// the rank given; waits for the job to end.
    func interrupt(_ ranks: Int, _ arguments: [String], log: String, lines: Int, signal: Int32, rank: Int? = nil) throws -> Int32? {
        guard let mpirun = DistributedCommandTests.mpirun(for: "signals under mpirun") else { return nil }
        // Started as from a shell: mpirun must be able to catch the signal and pass it on.
        let process = try SpawnedProcess(mpirun, ["-np", "\(ranks)", "--oversubscribe", "--bind-to", "none", gantryExecutable.path] + arguments,
                                         environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, process.isRunning {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count >= lines { break }
            usleep(20_000)
        }
        if let rank {
            // The rank's process: the gantry child of mpirun whose environment names the rank.
            let pids = try runCommand(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-P", "\(process.pid)"]).stdout
                .split(separator: "\n").compactMap { Int32($0) }
            let victim = pids.first { pid in
                let env = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
                return String(decoding: env, as: UTF8.self).split(separator: "\0").contains("OMPI_COMM_WORLD_RANK=\(rank)")
            }
            #expect(victim != nil, "no rank \(rank) among mpirun's children \(pids)")
            if let victim { kill(victim, signal) }
        } else {
            kill(process.pid, signal)
        }
        return process.wait()
    }

    @Test func sigtermStopsEveryRankAndContinueIsExact() throws {
        let dir = try TemporaryDirectory()
        try data(dir)
        // Long enough that the stop lands inside: the log is written in bursts.
        guard let whole = try DataParallelCommandTests.launch(2, arguments(dir, run: "whole", epochs: 16)) else { return }
        #expect(whole.status == 0, "\(whole.stderr)")
        guard try interrupt(2, arguments(dir, run: "split", epochs: 16), log: dir.path("split/losses.jsonl"), lines: 2, signal: SIGTERM) != nil else { return }
        let state = try String(contentsOfFile: dir.path("split/state.json"), encoding: .utf8)
        #expect(state.contains("\"interrupted\" : true"), "\(state)")
        let records = try String(contentsOfFile: dir.path("split/losses.jsonl"), encoding: .utf8).split(separator: "\n").count
        #expect(records < 48, "the run was not stopped (\(records) iterations logged)")
        guard let resumed = try DataParallelCommandTests.launch(2, ["train", "pix2pix", "--run", dir.path("split"), "--continue"]) else { return }
        #expect(resumed.status == 0 && resumed.stderr.contains("continuing exactly"), "\(resumed.stderr)")
        for name in ["G", "D", "G_ema"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: dir.path("whole/latest_net_\(name).pth")))
            let b = try Data(contentsOf: URL(fileURLWithPath: dir.path("split/latest_net_\(name).pth")))
            #expect(a == b, "latest_net_\(name).pth differs from the uninterrupted run's")
        }
    }

    @Test func continueOnAnotherNumberOfRanks() throws {
        let dir = try TemporaryDirectory()
        try data(dir)
        guard let whole = try DataParallelCommandTests.launch(2, arguments(dir, run: "whole", epochs: 4)),
              let first = try DataParallelCommandTests.launch(2, arguments(dir, run: "split", epochs: 2)),
              let second = try DataParallelCommandTests.launch(1, ["train", "pix2pix", "--run", dir.path("split"), "--continue", "--n-epochs", "4"])
        else { return }
        #expect(whole.status == 0 && first.status == 0 && second.status == 0, "\(second.stderr)")
        #expect(try DataParallelCommandTests().largestLossDifference(dir.path("whole"), dir.path("split")) < 1e-4)
    }

    @Test func aKilledRankEndsTheJobWhichContinuesFromItsLastSave() throws {
        let dir = try TemporaryDirectory()
        try data(dir)
        // Saves every epoch (3 iterations); rank 1 dies in epoch 2 or later.
        guard let status = try interrupt(2, arguments(dir, run: "run", epochs: 30), log: dir.path("run/losses.jsonl"), lines: 4,
                                         signal: SIGKILL, rank: 1) else { return }
        #expect(status != 0)
        let state = try String(contentsOfFile: dir.path("run/state.json"), encoding: .utf8)
        #expect(!state.isEmpty)
        guard let resumed = try DataParallelCommandTests.launch(2, ["train", "pix2pix", "--run", dir.path("run"), "--continue", "--n-epochs", "4"]) else { return }
        #expect(resumed.status == 0 && resumed.stderr.contains("continuing exactly"), "\(resumed.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path("run/4_net_G.pth")) || FileManager.default.fileExists(atPath: dir.path("run/latest_net_G.pth")))
    }
}
