import Foundation
import Imaging
import Testing
import TestSupport

/// `gantry train` through the real binary: a reference-spelled command line trains and writes
/// its run folder; bad input gets one line naming it and exit 1.
struct TrainCommandTests {
    @Test func referenceSpelledCommandTrainsPix2pix() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 { try dir.write("facades/train/\(i).png", try TestImages.png(width: 256, height: 128, seed: i)) }
        try dir.write("config.yaml", "ngf: 4\nndf: 4\n")
        let r = try runGantry(["train", "pix2pix", "--dataroot", dir.path("facades"), "--run", dir.path("runs/facades"),
                               "--netG", "unet_128", "--config", dir.path("config.yaml"), "--preprocess", "crop",
                               "--load_size", "128", "--crop_size=128", "--n_epochs", "1", "--n_epochs_decay", "0",
                               "--direction", "BtoA", "--no_flip"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("epoch 1/1") && r.stdout.contains("finished"), "\(r.stdout)\n\(r.stderr)")
        for f in ["config.yaml", "losses.jsonl", "latest_net_G.pth", "latest_net_D.pth", "samples/epoch_001.png", "loss_curves.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir.path("runs/facades/\(f)")), "\(f)")
        }
        let config = try String(contentsOfFile: dir.path("runs/facades/config.yaml"), encoding: .utf8)
        #expect(config.contains("net-g: unet_128") && config.contains("ngf: 4") && config.contains("direction: BtoA"))
    }

    /// `gantry train RECIPE --help` lists that recipe's options, each spelling with its help and
    /// default, laid out within 80 columns; other recipes' options are not listed.
    @Test func recipeHelpListsItsOptions() throws {
        let r = try runGantry(["train", "stargan", "--help"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("STARGAN OPTIONS:") && r.stdout.contains("--ngf, --g_conv_dim <value>"), "\(r.stdout)")
        #expect(r.stdout.contains("--num-iters, --num_iters <value>") && r.stdout.contains("(default: 200000)"))
        #expect(!r.stdout.contains("--lambda-l1") && !r.stdout.contains("--pool-size"))
        #expect(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(r.stdout)")
        #expect(r.stdout.contains("USAGE: gantry train stargan"))
        // The reference's spelling with the other separator trains too.
        let bad = try runGantry(["train", "stargan", "--g-conv-dim", "x"])
        #expect(bad.status == 1 && bad.stderr.contains("--ngf") && !bad.stderr.contains("unknown option"), "\(bad.stderr)")
    }

    @Test func badInputIsOneLineAndExitOne() throws {
        let dir = try TemporaryDirectory()
        try dir.write("data/trainA/a.png", try TestImages.png(width: 64, height: 64, seed: 1))
        try dir.write("data/trainB/b.png", Data("broken".utf8))
        for (arguments, expected) in [
            (["--data", dir.path("data"), "--run", dir.path("r")], "b.png"),
            (["--data", dir.path("data"), "--run", dir.path("r"), "--norm", "group"], "--norm must be one of"),
            (["--data", dir.path("data"), "--bogus", "1"], "unknown option '--bogus'"),
            (["--data", dir.path("data"), "--run", dir.path("r"), "--output-nc", "1"], "--lambda-identity"),
        ] {
            let r = try runGantry(["train", "cyclegan"] + arguments)
            #expect(r.status == 1, "\(arguments)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(expected), "\(r.stderr)")
        }
    }

    /// CUT's refusals: a paired folder, an NCE identity over images of two sizes, a layer list G
    /// does not have. Each is one line, exit 1, before or at the first iteration.
    @Test func cutBadInputIsOneLineAndExitOne() throws {
        let dir = try TemporaryDirectory()
        try dir.write("aligned/train/ab.png", try TestImages.png(width: 64, height: 32, seed: 1))
        try dir.write("sizes/trainA/a.png", try TestImages.png(width: 40, height: 36, seed: 2))
        try dir.write("sizes/trainB/b.png", try TestImages.png(width: 36, height: 40, seed: 3))
        let small = ["--ngf", "4", "--ndf", "4", "--net-g", "resnet_6blocks", "--n-epochs", "1", "--n-epochs-decay", "0", "--num-patches", "8", "--netf-nc", "8"]
        for (arguments, expected) in [
            (["--data", dir.path("aligned"), "--run", dir.path("r1")], "trains on unpaired images in trainA/ and trainB/"),
            (["--data", dir.path("sizes"), "--run", dir.path("r2"), "--preprocess", "none"], "--nce-idt=false"),
            (["--data", dir.path("sizes"), "--run", dir.path("r3"), "--nce_layers", "0,4,99"], "--nce-layers 0,4,99"),
        ] {
            let r = try runGantry(["train", "cut"] + small + arguments)
            #expect(r.status == 1, "\(arguments): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("epoch ") }
            #expect(lines.count == 1 && lines[0].contains(expected), "\(r.stderr)")
        }
        // FastCUT has no identity term: the same folder trains.
        let ok = try runGantry(["train", "fastcut"] + small + ["--data", dir.path("sizes"), "--run", dir.path("r4"), "--preprocess", "none"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// A run that fails its checks before the first iteration (unet_128 on 64×64 crops) leaves no
    /// files (it used to leave config.yaml and losses.jsonl, and the corrected command was then
    /// refused until --overwrite); the corrected command then trains in the same folder.
    @Test func aRunThatFailsBeforeItsFirstIterationLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 { try dir.write("data/train/\(i).png", try TestImages.png(width: 128, height: 64, seed: i)) }
        let common = ["train", "pix2pix", "--data", dir.path("data"), "--ngf", "2", "--ndf", "2", "--preprocess", "none",
                      "--n-epochs", "1", "--n-epochs-decay", "0", "--threads", "1"]
        for run in ["new", "existing"] {
            try FileManager.default.createDirectory(atPath: dir.path("existing"), withIntermediateDirectories: true)
            let r = try runGantry(common + ["--run", dir.path(run), "--net-g", "unet_128"])
            #expect(r.status == 1 && r.stderr.contains("unet_128 needs height and width divisible by 128"), "\(r.stderr)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: dir.path(run))) ?? []
            #expect(run == "new" ? !FileManager.default.fileExists(atPath: dir.path(run)) : left.isEmpty, "\(run): \(left)")
            let fixed = try runGantry(common + ["--run", dir.path(run), "--net-g", "resnet_6blocks"])
            #expect(fixed.status == 0, "\(fixed.stderr)")
        }
    }

    /// Starts `gantry train`, waits until `lines` iterations are logged, sends `signals`
    /// (`gap` seconds apart) and waits for the exit.
    func interrupt(_ arguments: [String], log: String, lines: Int, signals: [Int32], gap: Double = 0) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = gantryExecutable
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.split(separator: "\n").count >= lines { break }
            usleep(20_000)
        }
        for (i, s) in signals.enumerated() {
            if i > 0 { usleep(UInt32(gap * 1e6)) }
            kill(process.processIdentifier, s)
        }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    @Test func sigintSavesAndContinueFinishesAsAnUninterruptedRun() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<3 { try dir.write("data/train/\(i).png", try TestImages.png(width: 256, height: 128, seed: i)) }
        func arguments(_ run: String) -> [String] {
            ["train", "pix2pix", "--data", dir.path("data"), "--run", dir.path(run), "--net-g", "unet_128", "--ngf", "4", "--ndf", "4",
             "--load-size", "140", "--crop-size", "128", "--n-epochs", "2", "--n-epochs-decay", "1", "--threads", "2", "--seed", "4"]
        }
        let whole = try runGantry(arguments("whole"))
        #expect(whole.status == 0, "\(whole.stderr)")

        let stopped = try interrupt(arguments("split"), log: dir.path("split/losses.jsonl"), lines: 2, signals: [SIGINT])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("stopping after this iteration"), "\(stopped.stderr)")
        let state = try String(contentsOfFile: dir.path("split/state.json"), encoding: .utf8)
        #expect(state.contains("\"interrupted\" : true"))
        // The run's own options come back from its config.yaml: only the folder and --continue.
        let resumed = try runGantry(["train", "pix2pix", "--run", dir.path("split"), "--continue"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("continuing exactly"), "\(resumed.stderr)")
        for name in ["G", "D"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: dir.path("whole/latest_net_\(name).pth")))
            let b = try Data(contentsOf: URL(fileURLWithPath: dir.path("split/latest_net_\(name).pth")))
            #expect(a == b, "latest_net_\(name).pth differs from the uninterrupted run's")
        }
        let wrongRecipe = try runGantry(["train", "cyclegan", "--run", dir.path("split"), "--continue"])
        #expect(wrongRecipe.status == 1 && wrongRecipe.stderr.contains("is a pix2pix run"), "\(wrongRecipe.stderr)")
    }

    @Test func aSecondSigintQuitsAtOnce() throws {
        let dir = try TemporaryDirectory()
        try dir.write("data/train/0.png", try TestImages.png(width: 512, height: 256, seed: 1))
        // Iterations long enough (unet_256, ngf 16) that the second signal lands inside one.
        let r = try interrupt(["train", "pix2pix", "--data", dir.path("data"), "--run", dir.path("run"), "--ngf", "16", "--ndf", "16",
                               "--n-epochs", "50", "--threads", "2"],
                              log: dir.path("run/losses.jsonl"), lines: 1, signals: [SIGINT, SIGINT], gap: 0.02)
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stderr.contains("quitting without saving"), "\(r.stderr)")
    }

    /// Starting a run in a folder that already holds files needs --overwrite: forgetting
    /// --continue used to replace a trained run's checkpoints (and a user's own files) silently.
    @Test func aFreshRunDoesNotReplaceAnExistingOne() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 { try dir.write("data/train/\(i).png", try TestImages.png(width: 64, height: 32, seed: i)) }
        let common = ["train", "pix2pix", "--data", dir.path("data"), "--run", dir.path("run"), "--net-g", "resnet_6blocks", "--ngf", "4",
                      "--ndf", "4", "--crop-size", "32", "--load-size", "32", "--n-epochs", "1", "--n-epochs-decay", "0"]
        #expect(try runGantry(common).status == 0)
        let trained = try Data(contentsOf: URL(fileURLWithPath: dir.path("run/latest_net_G.pth")))
        let again = try runGantry(common + ["--seed", "9"])
        #expect(again.status != 0 && again.stderr.contains("already holds files") && again.stderr.contains("--overwrite"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("run/latest_net_G.pth"))) == trained)
        let over = try runGantry(common + ["--seed", "9", "--overwrite"])
        #expect(over.status == 0, "\(over.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("run/latest_net_G.pth"))) != trained)
        let config = try String(contentsOfFile: dir.path("run/config.yaml"), encoding: .utf8)
        #expect(!config.contains("overwrite"), "an act, not a setting: \(config)")
        // A user's folder with their own files is not taken over either.
        try dir.write("mine/config.yaml", "my: settings\n")
        let mine = try runGantry(["train", "pix2pix", "--data", dir.path("data"), "--run", dir.path("mine"), "--crop-size", "32"])
        let kept = try String(contentsOfFile: dir.path("mine/config.yaml"), encoding: .utf8)
        #expect(mine.status != 0 && kept == "my: settings\n", "\(mine.stderr)")
    }
}
