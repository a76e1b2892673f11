import Engine
import Models
import TestSupport
import Testing
import Training

/// CUT's and FastCUT's first step against the CUT repository's own `CUTModel` in float64
/// (`tools/fixtures/make_cut_step_fixtures.py`): the translation, every loss, and every gradient
/// of D (its step), then of G and F (their step, through PyTorch's updated D, with the patch
/// positions PyTorch drew). Tolerances as for the reference recipes (`TrainingStepParityTests`),
/// except where PyTorch's own float32 run strays further from float64 (`noise.*`): a conv bias
/// whose output is an NCE feature and also feeds an instance norm gets a tiny direct gradient
/// next to the norm's exact zero, so rounding shows (G.model.4.bias: 1.8e-4 in PyTorch float32).
/// There the limit is 4× PyTorch's own noise.
extension TrainingStepParityTests {
    func expectWithinNoise(_ comparisons: [GradientComparison], _ f: TrainingFixture) {
        for c in comparisons {
            let limit = c.structurallyZero ? Self.zeroTolerance : max(Self.tolerance, 4 * f.noise(c.key))
            #expect(c.relativeError <= limit, "\(c)")
        }
        let worst = comparisons.filter { !$0.structurallyZero }.max { $0.relativeError < $1.relativeError }
        print("worst gradient \(worst.map(\.description) ?? "-")")
    }

    @Test(arguments: ["cut", "fastcut"])
    func cutFirstStepMatchesPyTorch(_ mode: String) throws {
        let f = try TrainingFixture("\(mode)_step")
        let fast = mode == "fastcut"
        let g = try Generator(.cut(blocks: 6, ngf: 4))
        let d = try Discriminator(.nLayers(3, ndf: 4, norm: .instance, antialias: true))
        // Feature channels at model.0 (the padded image), .4, .8, .12, .16 of an ngf-4 CUT G.
        let sampler = try PatchSampleF(channels: [3, 8, 16, 16, 16], width: 16)
        for (net, name) in [(g.root, "G"), (d.root, "D"), (sampler.root, "F")] {
            #expect(f.load(net, prefix: "init.\(name)") == net.namedTensors().count, "\(name)")
        }
        let model = CUTModel(generator: g, discriminator: d, sampler: sampler, lambdaNCE: fast ? 10 : 1, nceIdentity: !fast,
                             patches: 16, flipEquivariance: fast, random: RandomSource(seed: 1), context: context)
        let (a, b) = (f["input.A"], f["input.B"])
        let t = try model.forward(realA: a, realB: b, flip: fast)
        #expect(relativeL2(t.fakeB.data.values, f["fake64"].values) <= Self.tolerance)

        var losses = CUTModel.Losses()
        try model.backwardD(realB: b, t, losses: &losses)
        expectLoss(losses.dFake, f, "D_fake")
        expectLoss(losses.dReal, f, "D_real")
        expectWithinNoise(compareGradients(d.root, f, prefix: "D"), f)

        f.load(d.root, prefix: "adam64.D")
        let ids = (0..<(fast ? 1 : 2)).map { call in (0..<5).map { layer in f["ids.\(call).\(layer)"].values.map { Int($0) } } }
        try model.backwardG(realA: a, realB: b, t, losses: &losses, ids: ids)
        expectLoss(losses.gGAN, f, "G_GAN")
        expectLoss(losses.nce, f, "NCE")
        if !fast { expectLoss(try #require(losses.nceY), f, "NCE_Y") }
        expectLoss(losses.g, f, "G")
        expectWithinNoise(compareGradients(g.root, f, prefix: "G") + compareGradients(sampler.root, f, prefix: "F"), f)
        #expect(d.root.parameters().allSatisfy { $0.variable.requiresGrad }, "D is unfrozen after the G step")
    }
}
