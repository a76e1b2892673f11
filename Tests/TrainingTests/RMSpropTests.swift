import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// `RMSprop` against `torch.optim.RMSprop` (tools/fixtures/make_rmsprop_fixtures.py, float32,
/// foreach=False), and its state through `TrainingStateFile`.
struct RMSpropTests {
    nonisolated(unsafe) static let fixture = try! TrainingFixture("rmsprop")

    func optimizer(_ run: String) throws -> (RMSprop, Variable) {
        let f = Self.fixture
        let s = f["\(run)/settings"].values.map(Double.init)
        let p = Variable(try Tensor(shape: [3, 4, 5], values: f["\(run)/init"].values), requiresGrad: true)
        // The settings went through float32 in the file; use PyTorch's exact values.
        let exact: [String: (Double, Double, Double, Double)] = ["wgan": (5e-5, 0.99, 1e-8, 0), "decay": (1e-2, 0.9, 1e-6, 0.01)]
        let (lr, alpha, eps, wd) = exact[run]!
        #expect(abs(Double(Float(lr)) - s[0]) < 1e-12 && abs(Double(Float(alpha)) - s[1]) < 1e-12)
        return (try RMSprop(parameters: [("p", p)], lr: lr, alpha: alpha, eps: eps, weightDecay: wd), p)
    }

    /// Tolerance: 2e-6 of the step's parameter scale (PyTorch's kernels may fuse differently).
    @Test(arguments: ["wgan", "decay"])
    func matchesPyTorchStepForStep(_ run: String) throws {
        let f = Self.fixture
        let (opt, p) = try optimizer(run)
        for step in 1...10 {
            p.grad = f["\(run)/grad/\(step)"]
            try opt.step()
            let expected = f["\(run)/param/\(step)"].values
            let moved = zip(expected, f["\(run)/param/\(max(1, step - 1))"].values).map { abs($0 - $1) }.max()!
            let worst = zip(p.data.values, expected).map { abs($0 - $1) }.max()!
            #expect(Double(worst) <= 2e-6 * Double(max(1, expected.map(abs).max()!)) , "\(run) step \(step): \(worst) (moved \(moved))")
        }
        let square = try #require(opt.state(at: 0)?.buffers[0])
        #expect(relativeL2(square, f["\(run)/square_avg"].values) <= 1e-6)
    }

    /// Saved after 4 steps and restored into a fresh optimizer, the run continues bit for bit.
    @Test func stateFileRoundTrip() throws {
        let f = Self.fixture, dir = try TemporaryDirectory()
        let (a, pa) = try optimizer("decay")
        for step in 1...4 { pa.grad = f["decay/grad/\(step)"]; try a.step() }
        let url = URL(fileURLWithPath: dir.path("state.safetensors"))
        try TrainingStateFile.save(optimizers: ["D": a], to: url)
        let (b, pb) = try optimizer("decay")
        pb.data.assign(from: pa.data)
        try TrainingStateFile.load(from: url, optimizers: ["D": b])
        for step in 5...10 {
            pa.grad = f["decay/grad/\(step)"]; try a.step()
            pb.grad = f["decay/grad/\(step)"]; try b.step()
        }
        #expect(pa.data.values.map(\.bitPattern) == pb.data.values.map(\.bitPattern))
        // An Adam state does not load into RMSprop, and the error says which is which.
        let adam = try Adam(parameters: [("p", Variable(try Tensor(zeros: [3, 4, 5]), requiresGrad: true))])
        #expect { try TrainingStateFile.load(from: url, optimizers: ["D": adam]) } throws: {
            "\($0)".contains("saved as rmsprop, this run uses adam")
        }
    }

    @Test func wganTrainsWithRMSpropByDefault() throws {
        var o = TrainingOptions.defaults(for: .cyclegan)
        #expect(o.resolvedOptimizer == .adam)
        try o.set("gan-mode", to: "wgan")
        #expect(o.resolvedOptimizer == .rmsprop)
        try o.set("optimizer", to: "adam")
        #expect(o.resolvedOptimizer == .adam)
    }
}
