import Checkpoints
import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// Run folders written before the one training loop (f575798, `tools/fixtures/make_legacy_run_fixtures.sh`):
/// StarGAN's and DCGAN's older `state.json` (raw random words, optimizers at the run's root) and
/// pix2pix's format-1 state under `resume/`. Each continues with today's loop; the result is the
/// run today's loop trains uninterrupted, bit for bit.
///
/// The fixtures were trained on an AVX2 machine (Zen 3) on one thread; convolution sums round
/// differently with AVX-512 kernels, so there the bit-for-bit comparison is skipped (said in the
/// output) and only the continuation's bookkeeping is checked.
struct LegacyRunTests {
    struct Case: Sendable, CustomStringConvertible {
        var recipe: TrainingRecipe
        /// The options the fixture trained with, and the longer run it continues to.
        var flags: [String]
        var longer: [String]
        /// Log lines before and after continuing; the checkpoint compared.
        var linesBefore: Int, linesAfter: Int
        var compared: [String]
        var description: String { recipe.rawValue }
    }

    static let cases: [Case] = [
        Case(recipe: .stargan,
             flags: ["--image-size", "16", "--crop-size", "20", "--g_conv_dim", "4", "--d_conv_dim", "4", "--g-repeat-num", "1",
                     "--d-repeat-num", "2", "--num-iters-decay", "0", "--model-save-step", "3", "--sample-step", "3",
                     "--batch-size", "4", "--n-critic", "2", "--seed", "4"],
             longer: ["--num-iters", "6"], linesBefore: 3, linesAfter: 6, compared: ["models/6-G.ckpt", "models/6-D.ckpt"]),
        Case(recipe: .dcgan,
             flags: ["--nz", "4", "--ngf", "2", "--ndf", "2", "--batch-size", "3", "--gan-mode", "wgangp", "--n-critic", "2", "--seed", "5"],
             longer: ["--n-epochs", "2"], linesBefore: 2, linesAfter: 4, compared: ["latest_net_G.pth", "latest_net_D.pth"]),
        Case(recipe: .pix2pix,
             flags: ["--net-g", "resnet_6blocks", "--ngf", "2", "--ndf", "2", "--preprocess", "none", "--n-epochs-decay", "0",
                     "--lr-policy", "step", "--lr-decay-iters", "50", "--save-epoch-freq", "1", "--seed", "3", "--n-layers-d", "1",
                     "--net-d", "n_layers"],
             longer: ["--n-epochs", "3"], linesBefore: 6, linesAfter: 9, compared: ["latest_net_G.pth", "latest_net_D.pth", "3_net_G.pth"]),
    ]

    @Test(arguments: cases)
    func continuesAsTodaysLoopTrains(_ c: Case) throws {
        let dir = try TemporaryDirectory()
        let fixtures = fixturesDirectory.appendingPathComponent("legacy-runs")
        let data = dir.path("data"), legacy = dir.path("legacy"), fresh = dir.path("fresh")
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("data-\(c.recipe.rawValue)"), to: URL(fileURLWithPath: data))
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent(c.recipe.rawValue), to: URL(fileURLWithPath: legacy))
        let backend = try DNNLBackend(algorithm: .winograd, threads: 1)
        let log = { (run: String) in try LossLog.read(URL(fileURLWithPath: run + "/losses.jsonl")) }
        #expect(try log(legacy).count == c.linesBefore)

        let continued = try Trainer(TrainingOptions.resolveCommandLine(c.recipe, arguments: [
            "--data", data, "--run", legacy, "--continue", "--threads", "1"] + c.longer), backend: backend)
        #expect(continued.notes.contains { $0.contains("continuing exactly") }, "\(continued.notes)")
        #expect(try continued.train() == .finished)
        #expect(try log(legacy).count == c.linesAfter)
        #expect(!FileManager.default.fileExists(atPath: legacy + "/optimizers.safetensors"), "the older file is replaced by resume/")

        try Trainer(TrainingOptions.resolveCommandLine(c.recipe, arguments: ["--data", data, "--run", fresh, "--threads", "1"]
            + c.flags + c.longer), backend: backend).train()
        let timeless = { (run: String) in try log(run).map { r -> String in var r = r; r.seconds = 0; return r.jsonLine } }
        let cpuHasAVX512 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx512f") ?? false
        let capped = ProcessInfo.processInfo.environment["GANTRY_MAX_CPU_ISA"]?.lowercased() == "avx2"
        guard !cpuHasAVX512 || capped else {
            print("LegacyRunTests \(c.recipe.rawValue): bit-for-bit comparison skipped: the fixtures were trained with AVX2 kernels and this CPU runs AVX-512 ones (it runs under GANTRY_MAX_CPU_ISA=avx2)")
            return
        }
        for file in c.compared {
            let differing = try differingTensors(URL(fileURLWithPath: legacy + "/" + file), URL(fileURLWithPath: fresh + "/" + file))
            #expect(differing.isEmpty, "\(file): \(differing)")
        }
        #expect(try timeless(legacy) == timeless(fresh))
    }
}
