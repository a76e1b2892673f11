import Engine
import Foundation
import Models
import Runs
import TestSupport
import Testing
import Training

/// StarGAN's training step against yunjey/stargan's `Solver.train()` in PyTorch
/// (tools/fixtures/make_stargan_step_fixtures.py): every loss, every parameter's gradient (D's
/// from the D step, with the gradient penalty's second-order pass; G's from the G step through
/// the updated D), and G's running statistics after its three passes. Tolerances as the other
/// recipes' first step: relative L2 ≤ 1e-4 against the float64 run (direct convolutions); losses
/// within 1e-5 of their scale.
struct StarGANStepParityTests {
    nonisolated(unsafe) static let fixture = try! TrainingFixture("stargan_step")

    @Test(arguments: [("celeba", StarGANModel.Labels.attributes), ("rafd", .domains)])
    func firstIterationMatchesPyTorch(_ name: String, labels: StarGANModel.Labels) throws {
        let f = Self.fixture
        let g = try Generator(.stargan(conditions: 3, convDim: 4, repeats: 1))
        let d = try Discriminator(.stargan(imageSize: 32, convDim: 4, cDim: 3, repeatNum: 3))
        #expect(f.load(g.root, prefix: "\(name).init.G") == g.root.namedTensors().count)
        #expect(f.load(d.root, prefix: "\(name).init.D") == d.root.namedTensors().count)
        let model = StarGANModel(generator: g, discriminator: d, labels: labels, random: RandomSource(seed: 1),
                                 context: TrainingContext(backend: Backends.direct))
        let optG = try Adam(parameters: g.root.parameters(), lr: 1e-4, betas: (0.5, 0.999))
        let optD = try Adam(parameters: d.root.parameters(), lr: 1e-4, betas: (0.5, 0.999))
        func condition(_ key: String) throws -> Tensor {
            let t = f["\(name).\(key)"]
            guard labels == .domains else { return t }
            // The fixture stores RaFD's class indices; conditions are one-hot.
            return try Tensor(shape: [t.count, 3], values: t.values.flatMap { k in (0..<3).map { Float($0 == Int(k) ? 1 : 0) } })
        }
        // D's gradients are read after its Adam step: keep them from being cleared by the G step.
        var dGradients: [String: Tensor] = [:]
        let recording = RecordingOptimizer(optD) { dGradients = Dictionary(uniqueKeysWithValues: d.root.parameters().compactMap { p in p.variable.grad.map { (p.name, $0) } }) }
        let losses = try model.optimize(images: f["\(name).x"], labels: try condition("label_org"), targets: try condition("label_trg"),
                                        alpha: f["\(name).alpha"].values, optimizerG: optG, optimizerD: recording)
        for (key, ours) in losses.named {
            let truth = f.scalar("\(name).loss64.\(key)")
            #expect(abs(ours - truth) <= 1e-5 * max(1, abs(truth)), "\(name) \(key): \(ours) vs \(truth)")
        }
        for (module, prefix, grads) in [(d.root, "D", dGradients), (g.root, "G", Dictionary(uniqueKeysWithValues: g.root.parameters().compactMap { p in p.variable.grad.map { (p.name, $0) } }))] {
            let params = module.parameters()
            let scale = params.map { l2(f["\(name).g64.\(prefix).\($0.name)"].values) }.max() ?? 1
            var worst = 0.0
            for p in params {
                let truth = f["\(name).g64.\(prefix).\(p.name)"]
                let ours = try grads[p.name] ?? Tensor(zeros: truth.shape)
                let c = GradientComparison(key: "\(prefix).\(p.name)", ours: ours, truth: truth, networkScale: scale)
                if !c.structurallyZero { worst = max(worst, c.relativeError) }
                #expect(c.relativeError <= (c.structurallyZero ? 1e-5 : 1e-4), "\(name) \(c)")
            }
            print("\(name) \(prefix): worst gradient rel L2 \(worst)")
        }
        // G ran three times (the D step's fake, the G step's fake and its reconstruction).
        for (key, value, _, _) in g.root.namedTensors() where key.contains("running") {
            #expect(relativeL2(value.values, f["\(name).after.G.\(key)"].values) <= 1e-5, "\(name) G.\(key)")
        }
    }

    @Test func domainLabelsMustBeOneHot() throws {
        let g = try Generator(.stargan(conditions: 3, convDim: 2, repeats: 0))
        let d = try Discriminator(.stargan(imageSize: 16, convDim: 2, cDim: 3, repeatNum: 2))
        let model = StarGANModel(generator: g, discriminator: d, labels: .domains, random: RandomSource(seed: 1),
                                 context: TrainingContext(backend: Backends.direct))
        let opt = { try Adam(parameters: $0) }
        let x = randomTensor([1, 3, 16, 16], seed: 1)
        let twoHot = try Tensor(shape: [1, 3], values: [1, 1, 0])
        #expect { _ = try model.optimize(images: x, labels: twoHot, targets: twoHot, optimizerG: try opt(g.root.parameters()),
                                         optimizerD: try opt(d.root.parameters())) } throws: { "\($0)".contains("one-hot") }
    }
}

/// Passes steps through to an optimizer, calling `before` first (to read gradients the model clears later).
final class RecordingOptimizer: Optimizer {
    let wrapped: any Optimizer
    let before: () -> Void
    init(_ wrapped: any Optimizer, before: @escaping () -> Void) { (self.wrapped, self.before) = (wrapped, before) }
    var parameters: [(name: String, variable: Variable)] { wrapped.parameters }
    var lr: Double { get { wrapped.lr } set { wrapped.lr = newValue } }
    func zeroGrad() { wrapped.zeroGrad() }
    var beforeStep: GradientHook? { get { wrapped.beforeStep } set { wrapped.beforeStep = newValue } }
    func step() throws(TrainingError) { before(); try wrapped.step() }
    var algorithm: String { wrapped.algorithm }
    var settings: [(name: String, value: Double)] { wrapped.settings }
    var bufferNames: [String] { wrapped.bufferNames }
    func state(at index: Int) -> (step: Int, buffers: [[Float]])? { wrapped.state(at: index) }
    func restore(_ states: [(step: Int, buffers: [[Float]])?]) { wrapped.restore(states) }
}
