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
/// The fixtures were trained on an AVX2 machine (Zen 3) on one thread. The test first retrains
/// the fixture's own run with today's loop: where that reproduces the fixture bit for bit, this
/// CPU rounds as that one did and the comparison is exact; elsewhere (other kernels, another
/// cache size) it says so in the output and compares within 1e-3, relative.
struct LegacyRunTests {
    struct Case: Sendable, CustomStringConvertible {
        var recipe: TrainingRecipe
        /// The options the fixture trained with, its own length, and the longer run it continues to.
        var flags: [String]
        var original: [String]
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
             original: ["--num-iters", "3"], longer: ["--num-iters", "6"], linesBefore: 3, linesAfter: 6, compared: ["models/6-G.ckpt", "models/6-D.ckpt"]),
        Case(recipe: .dcgan,
             flags: ["--nz", "4", "--ngf", "2", "--ndf", "2", "--batch-size", "3", "--gan-mode", "wgangp", "--n-critic", "2", "--seed", "5"],
             original: ["--n-epochs", "1"], longer: ["--n-epochs", "2"], linesBefore: 2, linesAfter: 4, compared: ["latest_net_G.pth", "latest_net_D.pth"]),
        Case(recipe: .pix2pix,
             flags: ["--net-g", "resnet_6blocks", "--ngf", "2", "--ndf", "2", "--preprocess", "none", "--n-epochs-decay", "0",
                     "--lr-policy", "step", "--lr-decay-iters", "50", "--save-epoch-freq", "1", "--seed", "3", "--n-layers-d", "1",
                     "--net-d", "n_layers"],
             original: ["--n-epochs", "2"], longer: ["--n-epochs", "3"], linesBefore: 6, linesAfter: 9, compared: ["latest_net_G.pth", "latest_net_D.pth", "3_net_G.pth"]),
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
        func train(_ run: String, _ length: [String]) throws {
            try Trainer(TrainingOptions.resolveCommandLine(c.recipe, arguments: ["--data", data, "--run", run, "--threads", "1"]
                + c.flags + length), backend: backend).train()
        }
        // Does this CPU round as the one that made the fixture?
        try train(dir.path("again"), c.original)
        let reproduces = try differingTensors(URL(fileURLWithPath: legacy + "/latest_net_G.pth"),
                                              URL(fileURLWithPath: dir.path("again/latest_net_G.pth"))).isEmpty

        let continued = try Trainer(TrainingOptions.resolveCommandLine(c.recipe, arguments: [
            "--data", data, "--run", legacy, "--continue", "--threads", "1"] + c.longer), backend: backend)
        #expect(continued.notes.contains { $0.contains("continuing exactly") }, "\(continued.notes)")
        #expect(try continued.train() == .finished)
        #expect(try log(legacy).count == c.linesAfter)
        #expect(!FileManager.default.fileExists(atPath: legacy + "/optimizers.safetensors"), "the older file is replaced by resume/")

        try train(fresh, c.longer)
        let timeless = { (run: String) in try log(run).map { r -> String in var r = r; r.seconds = 0; return r.jsonLine } }
        guard reproduces else {
            print("LegacyRunTests \(c.recipe.rawValue): this CPU does not reproduce the fixture's rounding (it was trained with Zen 3's AVX2 kernels): comparing within 1e-3 instead of bit for bit")
            for file in c.compared {
                let a = try Checkpoint.load(contentsOf: URL(fileURLWithPath: legacy + "/" + file)).stateDict
                let b = try Checkpoint.load(contentsOf: URL(fileURLWithPath: fresh + "/" + file)).stateDict
                #expect(a.keys == b.keys, "\(file)")
                // Relative to the network's largest value: a near-zero bias rounds as much as the rest.
                let scale = max(1e-6, b.keys.flatMap { b[$0]!.values.map { abs($0) } }.max() ?? 0)
                for key in a.keys {
                    let worst = zip(a[key]!.values, b[key]!.values).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst <= 1e-3 * scale, "\(file) \(key): \(worst) of \(scale)")
                }
            }
            #expect(try log(legacy).count == log(fresh).count)
            return
        }
        for file in c.compared {
            let differing = try differingTensors(URL(fileURLWithPath: legacy + "/" + file), URL(fileURLWithPath: fresh + "/" + file))
            #expect(differing.isEmpty, "\(file): \(differing)")
        }
        #expect(try timeless(legacy) == timeless(fresh))
    }
}
