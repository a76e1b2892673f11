import Foundation
import Testing
import TestSupport

/// `gantry convert -m RUN` on run folders the Trainer wrote: the generator each choice picks is
/// checked by converting its explicit `.pth` file the old way.
struct RunConvertCommandTests {
    func convert(_ dir: TemporaryDirectory, model: String, out: String, _ extra: [String] = []) throws -> CommandResult {
        try runGantry(["convert", dir.path("in"), "-m", model, "-o", dir.path(out), "-q"] + extra)
    }

    /// The bytes of every output, by file name.
    func outputs(_ dir: TemporaryDirectory, _ out: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path(out)) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: dir.path("\(out)/\(name)")))
        }
        return files
    }

    @Test func pix2pixRunPicksGAndSavedEpochs() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.pix2pix(in: dir)
        try dir.write("in/a.png", try TestImages.png(width: 128, height: 128, seed: 3))
        try dir.write("in/b.png", try TestImages.png(width: 120, height: 100, seed: 4))
        for (arguments, file) in [([String](), "latest_net_G.pth"), (["--epoch", "1"], "1_net_G.pth"),
                                  (["--which", "G", "--epoch", "2", "--direction", "AtoB"], "2_net_G.pth")] {
            let viaRun = try convert(dir, model: run, out: "run\(file)", arguments)
            #expect(viaRun.status == 0, "\(arguments): \(viaRun.stderr)")
            let viaFile = try convert(dir, model: "\(run)/\(file)", out: "file\(file)")
            #expect(viaFile.status == 0, "\(viaFile.stderr)")
            #expect(try outputs(dir, "run\(file)") == outputs(dir, "file\(file)"), "\(arguments) should run \(file)")
        }
        // Epoch 2 trained on: its weights, and so its outputs, differ from epoch 1's.
        #expect(try outputs(dir, "run1_net_G.pth") != outputs(dir, "runlatest_net_G.pth"))
        let dry = try runGantry(["convert", dir.path("in"), "-m", run, "-o", dir.path("dry"), "--dry-run", "--epoch", "1"])
        #expect(dry.stdout.contains("1_net_G.pth (G of a pix2pix run, translates AtoB; unet_128 ngf=4 norm=batch"), "\(dry.stdout)")
    }

    @Test func cycleGANRunPicksGAOrGB() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.cyclegan(in: dir)
        try dir.write("in/a.png", try TestImages.png(width: 37, height: 29, seed: 3))
        for (arguments, file) in [([String](), "latest_net_G_A.pth"), (["--which", "G_B"], "latest_net_G_B.pth"),
                                  (["--direction", "BtoA"], "latest_net_G_B.pth"), (["--direction", "AtoB"], "latest_net_G_A.pth"),
                                  (["--which", "G_B", "--epoch", "latest"], "latest_net_G_B.pth")] {
            let viaRun = try convert(dir, model: run, out: "run", arguments + ["--overwrite"])
            #expect(viaRun.status == 0, "\(arguments): \(viaRun.stderr)")
            _ = try convert(dir, model: "\(run)/\(file)", out: "file", ["--overwrite"])
            #expect(try outputs(dir, "run") == outputs(dir, "file"), "\(arguments) should run \(file)")
        }
        _ = try convert(dir, model: "\(run)/latest_net_G_A.pth", out: "a")
        _ = try convert(dir, model: "\(run)/latest_net_G_B.pth", out: "b")
        #expect(try outputs(dir, "a") != outputs(dir, "b"))
    }

    /// A UNet's keys cannot say whether it has dropout layers; a run trained with no-dropout
    /// says so, so `--dropout` has nothing to switch on, while the bare file (assumed to have
    /// them, as the reference's pix2pix default) turns noisy.
    @Test func runConfigSettlesWhatKeysCannotSay() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.pix2pix(in: dir, extra: [("no-dropout", "true")])
        try dir.write("in/a.png", try TestImages.png(width: 128, height: 128, seed: 3))
        #expect(try convert(dir, model: run, out: "plain").status == 0)
        #expect(try convert(dir, model: run, out: "runDropout", ["--dropout", "--seed", "1"]).status == 0)
        #expect(try convert(dir, model: "\(run)/latest_net_G.pth", out: "fileDropout", ["--dropout", "--seed", "1"]).status == 0)
        #expect(try outputs(dir, "runDropout") == outputs(dir, "plain"))
        #expect(try outputs(dir, "fileDropout") != outputs(dir, "plain"))
    }

    @Test func choicesTheRunDoesNotHaveAreUsageErrors() throws {
        let dir = try TemporaryDirectory()
        let p2p = try TrainedRunFixtures.pix2pix(in: dir), cg = try TrainedRunFixtures.cyclegan(in: dir)
        try dir.write("in/a.png", try TestImages.png(width: 32, height: 32))
        for (model, arguments, expected) in [
            (cg, ["--which", "G_C"], "choose G_A or G_B"),
            (cg, ["--which", "D_A"], "D_A is a discriminator; choose G_A or G_B"),
            (p2p, ["--which", "G_B"], "is a pix2pix run and it has no network G_B; choose G"),
            (p2p, ["--epoch", "7"], "no 7_net_G.pth (--epoch 7); saved epochs of G: latest, 1, 2"),
            (cg, ["--epoch", "3"], "no 3_net_G_A.pth (--epoch 3); saved epochs of G_A: latest"),
            (cg, ["--which", "G_A", "--direction", "BtoA"], "disagree"),
            (p2p, ["--direction", "BtoA"], "trained AtoB (config.yaml), so its G translates AtoB only"),
            (p2p, ["--norm", "instance"], "--norm instance contradicts the run's config.yaml, which gives G norm batch"),
            ("\(cg)/latest_net_G_A.pth", ["--epoch", "1"], "choose within a run folder"),
        ] {
            let r = try convert(dir, model: model, out: "out", arguments)
            #expect(r.status == 64, "\(arguments): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(expected), "\(arguments): \(r.stderr)")
        }
        // Watch takes the model the same way.
        let watch = try runGantry(["watch", dir.path("in"), "-o", dir.path("out"), "-m", cg, "--which", "G_C"])
        #expect(watch.status == 64 && watch.stderr.contains("choose G_A or G_B"), "\(watch.stderr)")
        // A matching architecture flag is fine.
        #expect(try convert(dir, model: cg, out: "ok", ["--norm", "instance", "--ngf", "4"]).status == 0)
    }

    @Test func plainCheckpointFolderStillWorks() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.cyclegan(in: dir)
        try FileManager.default.removeItem(atPath: "\(run)/config.yaml")
        try dir.write("in/a.png", try TestImages.png(width: 32, height: 32))
        #expect(try convert(dir, model: run, out: "b", ["--direction", "BtoA"]).status == 0)
        _ = try convert(dir, model: "\(run)/latest_net_G_B.pth", out: "file")
        #expect(try outputs(dir, "b") == outputs(dir, "file"))
        let r = try convert(dir, model: run, out: "none")
        #expect(r.status == 64 && r.stderr.contains("use --direction AtoB or BtoA"), "\(r.stderr)")
    }
}
