import Engine
import Foundation
import Models
import Runs
import TestSupport
import Testing
import Training

/// DCGAN's networks against pytorch/examples dcgan (tools/fixtures/make_dcgan_fixtures.py):
/// the same state_dict keys, G(z) and D's logit in training mode, and the G step's gradients.
struct DCGANTests {
    nonisolated(unsafe) static let fixture = try! TrainingFixture("dcgan")

    @Test func networksMatchPyTorch() throws {
        let f = Self.fixture
        let g = try DCGAN.generator(nz: 8, ngf: 4), d = try DCGAN.discriminator(ndf: 4)
        #expect(f.load(g, prefix: "G") == g.namedTensors().count)
        #expect(f.load(d, prefix: "D") == d.namedTensors().count)
        #expect(g.namedTensors().map(\.0).first == "main.0.weight")
        let context = TrainingContext(backend: Backends.direct, updatesRunningStatistics: false)
        let fake = try g.forward(Variable(f["z"]), context)
        #expect(fake.shape == [2, 3, 64, 64])
        #expect(relativeL2(fake.data.values, f["fake"].values) <= 1e-5)
        let logits = try d.forward(fake.detached(), context)
        #expect(relativeL2(logits.data.values, f["logits"].values) <= 1e-5)
    }

    /// The generator's step: errG = BCE(D(G(z)), 1), every G gradient against float64 PyTorch.
    @Test func generatorGradientsMatchPyTorch() throws {
        let f = Self.fixture
        let g = try DCGAN.generator(nz: 8, ngf: 4), d = try DCGAN.discriminator(ndf: 4)
        f.load(g, prefix: "G")
        f.load(d, prefix: "D")
        d.setRequiresGrad(false)
        let context = TrainingContext(backend: Backends.direct, updatesRunningStatistics: false)
        let loss = try GANObjective.vanilla.loss(d.forward(g.forward(Variable(f["z"]), context), context), real: true, forGenerator: true)
        #expect(abs(loss.scalar - f.scalar("errG64")) <= 1e-5 * max(1, abs(f.scalar("errG64"))))
        try loss.backward()
        let params = g.parameters()
        let scale = params.map { l2(f["g64.G.\($0.name)"].values) }.max() ?? 1
        for p in params {
            let c = GradientComparison(key: p.name, ours: try p.variable.grad ?? Tensor(zeros: p.variable.shape),
                                       truth: f["g64.G.\(p.name)"], networkScale: scale)
            #expect(c.relativeError <= (c.structurallyZero ? 1e-5 : 1e-4), "\(c)")
        }
    }
}
