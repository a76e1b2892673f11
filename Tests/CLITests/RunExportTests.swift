import Foundation
import TestSupport
import Testing

/// The files a training run exports load strictly in PyTorch, and PyTorch computes what
/// `gantry convert -m RUN` wrote, within one 8-bit level: tiny pix2pix and CycleGAN runs are
/// trained, a few images converted from each generator, and `tools/fixtures/check_run_export.py`
/// rebuilds each generator from config.yaml with the reference definitions and compares.
///
/// The torch step needs GANTRY_TORCH_PYTHON (e.g. /work/torchenv/bin/python); CI has no torch,
/// so without it everything else still runs: training, the conversions, and the outputs' sizes.
struct RunExportTests {
    static let script = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/fixtures/check_run_export.py").path

    /// Runs the check for one generator; returns its output. nil without torch.
    func check(_ run: String, _ inputs: String, _ outputs: String, _ extra: [String]) throws -> (status: Int32, output: String)? {
        guard let python = torchPython(for: "RunExportTests: \(URL(fileURLWithPath: run).lastPathComponent) against PyTorch") else { return nil }
        let r = try runCommand(python, [Self.script, run, inputs, outputs] + extra)
        let output = r.stdout + r.stderr
        print(output)
        return (r.status, output)
    }

    /// Converts `inputs` with each choice and checks each against PyTorch.
    func convertAndCheck(_ dir: TemporaryDirectory, run: String, inputs: String, choices: [(gantry: [String], script: [String])]) throws {
        for (i, choice) in choices.enumerated() {
            let out = dir.path("out\(i)")
            let r = try runGantry(["convert", inputs, "-m", run, "-o", out, "-q"] + choice.gantry)
            #expect(r.status == 0, "\(choice.gantry): \(r.stderr)")
            for name in try FileManager.default.contentsOfDirectory(atPath: inputs) {
                #expect(FileManager.default.fileExists(atPath: "\(out)/\(name)"), "\(name) converted")
            }
            guard let result = try check(run, inputs, out, choice.script) else { continue }
            #expect(result.status == 0, "\(choice.script): \(result.output)")
            #expect(result.output.contains("loaded strictly"), "\(result.output)")
        }
    }

    @Test func pix2pixRunMatchesPyTorch() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.pix2pix(in: dir)
        // 128 fits unet_128 as is; 120×100 is padded to 128 by reflection, which BatchNorm's
        // per-image statistics see too.
        try dir.write("in/a.png", try TestImages.png(width: 128, height: 128, seed: 31))
        try dir.write("in/b.png", try TestImages.png(width: 120, height: 100, seed: 32))
        try convertAndCheck(dir, run: run, inputs: dir.path("in"), choices: [([], []), (["--epoch", "1"], ["--epoch", "1"])])
    }

    /// A colorization run: L of the input into the reference's UnetGenerator(1, 2), its ab back
    /// to RGB with the input's L through skimage's lab2rgb, as the reference's model does.
    @Test func colorizationRunMatchesPyTorch() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.colorization(in: dir)
        try dir.write("in/a.png", try TestImages.png(width: 128, height: 128, seed: 35))
        try dir.write("in/b.png", try TestImages.png(width: 120, height: 100, seed: 36))
        try convertAndCheck(dir, run: run, inputs: dir.path("in"), choices: [([], []), (["--epoch", "1"], ["--epoch", "1"])])
    }

    @Test func cycleGANRunMatchesPyTorch() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.cyclegan(in: dir)
        try dir.write("in/a.png", try TestImages.png(width: 48, height: 32, seed: 33))
        try dir.write("in/b.png", try TestImages.png(width: 37, height: 29, seed: 34))
        try convertAndCheck(dir, run: run, inputs: dir.path("in"),
                            choices: [([], ["--which", "G_A"]), (["--which", "G_B"], ["--which", "G_B"])])
    }

    /// A StarGAN run's `<iter>-G.ckpt` / `-D.ckpt` load strictly in yunjey/stargan's networks, as
    /// its `restore_model` loads them (tools/fixtures/check_stargan_export.py; needs torch).
    @Test func starGANCheckpointsLoadInTheReference() throws {
        let dir = try TemporaryDirectory()
        for (domain, seed) in [("a", 1), ("b", 2)] {
            for i in 0..<2 { try dir.write("data/\(domain)/\(i).png", try TestImages.png(width: 40, height: 40, seed: seed * 10 + i)) }
        }
        let run = dir.path("run")
        let r = try runGantry(["train", "stargan", "--data", dir.path("data"), "--run", run, "--image-size", "32", "--crop-size", "40",
                               "--g_conv_dim", "4", "--d_conv_dim", "4", "--g-repeat-num", "1", "--d-repeat-num", "3",
                               "--num-iters", "2", "--num-iters-decay", "0", "--model-save-step", "2", "--sample-step", "2", "--batch-size", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(run)/models/2-G.ckpt"))
        guard let python = torchPython(for: "RunExportTests: StarGAN checkpoints in yunjey/stargan's model.py") else { return }
        let script = Self.script.replacingOccurrences(of: "check_run_export.py", with: "check_stargan_export.py")
        let check = try runCommand(python, [script, run, "2"])
        #expect(check.status == 0 && check.stdout.contains("loaded strictly"), "\(check.stdout)\(check.stderr)")
    }
}
