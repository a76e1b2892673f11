import Engine
import Foundation
import Models
import Runs
import TestSupport
import Testing
import Training

/// The first optimisation step of the reference recipes against PyTorch
/// (`tools/fixtures/make_training_fixtures.py`): every loss and every parameter's gradient, in
/// the reference's order, compared with a float64 run of the same step.
///
/// Tolerance: relative L2 ≤ 1e-4 per tensor with direct convolutions (the bound; the
/// float32 PyTorch run itself sits at ≤ 2e-6 of the float64 one, stored as `noise.*`).
/// Gradients that are zero in exact arithmetic (conv biases right before an instance norm) are
/// pure rounding in any float32 engine; for those, the norm of ours must stay below 1e-5 of the
/// network's largest gradient norm.
struct TrainingStepParityTests {
    static let tolerance = 1e-4
    static let zeroTolerance = 1e-5
    let context = TrainingContext(backend: Backends.direct)

    func compareGradients(_ module: Module, _ fixture: TrainingFixture, prefix: String) -> [GradientComparison] {
        let params = module.parameters()
        let scale = params.map { l2(fixture["g64.\(prefix).\($0.name)"].values) }.max() ?? 1
        return params.map { p in
            let truth = fixture["g64.\(prefix).\(p.name)"]
            guard let ours = p.variable.grad else {
                return GradientComparison(key: p.name, ours: (try? Tensor(shape: truth.shape, repeating: .nan)) ?? truth,
                                          truth: truth, networkScale: scale)
            }
            return GradientComparison(key: "\(prefix).\(p.name)", ours: ours, truth: truth, networkScale: scale)
        }
    }

    func expectClose(_ comparisons: [GradientComparison]) {
        let worst = comparisons.filter { !$0.structurallyZero }.max { $0.relativeError < $1.relativeError }
        let zeros = comparisons.filter(\.structurallyZero)
        print("worst gradient \(worst.map(\.description) ?? "-"); \(zeros.count) zero-gradient tensors, largest \(zeros.map(\.relativeError).max() ?? 0)")
        for c in comparisons {
            let limit = c.structurallyZero ? Self.zeroTolerance : Self.tolerance
            #expect(c.relativeError <= limit, "\(c)")
        }
    }

    func expectLoss(_ ours: Double, _ fixture: TrainingFixture, _ name: String) {
        let truth = fixture.scalar("loss64.\(name)")
        #expect(abs(ours - truth) <= 1e-5 * max(1, abs(truth)), "loss \(name): ours \(ours), PyTorch \(truth)")
    }

    @Test func pix2pixFirstStepMatchesPyTorch() throws {
        let f = try TrainingFixture("pix2pix_step")
        let g = try Generator(.unet(downs: 5, ngf: 4, norm: .batch, dropout: false))
        let d = try Discriminator(.nLayers(3, ndf: 4, norm: .batch, inputChannels: 6))
        #expect(f.load(g.root, prefix: "init.G") == g.root.namedTensors().count)
        #expect(f.load(d.root, prefix: "init.D") == d.root.namedTensors().count)
        let model = Pix2PixModel(generator: g, discriminator: d, objective: .vanilla, lambdaL1: 100, context: context)
        let (a, b) = (f["input.A"], f["input.B"])
        var losses = Pix2PixModel.Losses()

        let fake = try model.forward(a)
        #expect(relativeL2(fake.data.values, f["fake64"].values) <= Self.tolerance)
        try model.backwardD(realA: a, realB: b, fake: fake, losses: &losses)
        expectLoss(losses.dFake, f, "D_fake")
        expectLoss(losses.dReal, f, "D_real")
        expectClose(compareGradients(d.root, f, prefix: "D"))

        // Adam's first step moves each weight by lr·sign(gradient): exact where the sign is
        // certain, up to 2·lr where the gradient is within rounding of zero.
        let before = d.root.parameters().map { ($0.name, $0.variable.data.values, $0.variable.grad!.values) }
        let optimizer = try Adam(parameters: d.root.parameters(), lr: 2e-4, betas: (0.5, 0.999))
        try optimizer.step()
        for (key, _, grad) in before {
            let ours = d.root.parameters().first { $0.name == key }!.variable.data.values
            let truth = f["adam64.D.\(key)"].values
            let gradScale = grad.map { abs($0) }.max() ?? 0
            for i in ours.indices {
                let certain = abs(grad[i]) > 1e-4 * gradScale
                #expect(abs(ours[i] - truth[i]) <= (certain ? 1e-6 : 4.01e-4), "D.\(key)[\(i)] after Adam")
            }
        }

        // The G step goes through the updated D; take PyTorch's so G's gradients are compared
        // on identical weights.
        f.load(d.root, prefix: "adam64.D")
        try model.backwardG(realA: a, realB: b, fake: fake, losses: &losses)
        expectLoss(losses.gGAN, f, "G_GAN")
        expectLoss(losses.gL1, f, "G_L1")
        expectClose(compareGradients(g.root, f, prefix: "G"))
        #expect(d.root.parameters().allSatisfy { $0.variable.requiresGrad }, "D is unfrozen after the G step")

        // BatchNorm running statistics after G(A) once and D three times (two in the D step,
        // one in the G step), each with momentum 0.1 and unbiased variance.
        for (net, name) in [(g.root, "G"), (d.root, "D")] {
            for (key, value, isBuffer, _) in net.namedTensors() where isBuffer {
                let truth = f["after64.\(name).\(key)"].values
                #expect(relativeL2(value.values, truth) <= 1e-5, "\(name).\(key)")
            }
        }
    }

    @Test func cycleGANFirstStepMatchesPyTorch() throws {
        let f = try TrainingFixture("cyclegan_step")
        let gA = try Generator(.resnet(blocks: 6, ngf: 4, norm: .instance)), gB = try Generator(.resnet(blocks: 6, ngf: 4, norm: .instance))
        let dA = try Discriminator(.nLayers(3, ndf: 4, norm: .instance)), dB = try Discriminator(.nLayers(3, ndf: 4, norm: .instance))
        for (net, name) in [(gA.root, "G_A"), (gB.root, "G_B"), (dA.root, "D_A"), (dB.root, "D_B")] {
            #expect(f.load(net, prefix: "init.\(name)") == net.namedTensors().count)
        }
        let model = try CycleGANModel(generatorA: gA, generatorB: gB, discriminatorA: dA, discriminatorB: dB,
                                      objective: .lsgan, random: RandomSource(seed: 1), context: context)
        let (a, b) = (f["input.A"], f["input.B"])
        var losses = CycleGANModel.Losses()
        let t = try model.forward(realA: a, realB: b)
        #expect(relativeL2(t.fakeB.data.values, f["fake_B64"].values) <= Self.tolerance)
        try model.backwardG(realA: a, realB: b, t, losses: &losses)
        for (ours, name) in [(losses.gA, "G_A"), (losses.gB, "G_B"), (losses.cycleA, "cycle_A"), (losses.cycleB, "cycle_B"),
                             (losses.idtA, "idt_A"), (losses.idtB, "idt_B")] {
            expectLoss(ours, f, name)
        }
        expectClose(compareGradients(gA.root, f, prefix: "G_A") + compareGradients(gB.root, f, prefix: "G_B"))
        #expect(dA.root.parameters().allSatisfy { $0.variable.grad == nil }, "D_A was frozen during the G step")

        // D_A and D_B back-propagate one after the other into one optimizer's gradients.
        try model.backwardD(realA: a, realB: b, t, losses: &losses)
        expectLoss(losses.dA, f, "D_A")
        expectLoss(losses.dB, f, "D_B")
        expectClose(compareGradients(dA.root, f, prefix: "D_A") + compareGradients(dB.root, f, prefix: "D_B"))
    }
}
