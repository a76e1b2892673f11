import Engine
import Foundation
import Imaging
import Models
import Runs
import TestSupport
import Testing
import Training

/// Every objective trains a small pix2pix end to end: finite losses, and a critic that learns to
/// score real pairs above generated ones (the sign every objective asks of D: its raw output is
/// pushed up on real and down on fake). Plus the training mechanics of WGAN (clipping,
/// n_critic) and WGAN-GP (the penalty in the D step).
struct ObjectiveTrainingTests {
    /// A pattern and its inverse, 32×32: an easy mapping.
    static func pairs(_ count: Int) throws -> [(a: Tensor, b: Tensor)] {
        try (0..<count).map { i in
            let image = TestImages.pattern(width: 32, height: 32, seed: i)
            var a = [Float](repeating: 0, count: 3 * 32 * 32), b = a
            for p in 0..<(32 * 32) {
                for c in 0..<3 {
                    let v = Float(image.samples[p * 3 + c]) / 127.5 - 1
                    a[c * 1024 + p] = v
                    b[c * 1024 + p] = -v
                }
            }
            return (try Tensor(shape: [1, 3, 32, 32], values: a), try Tensor(shape: [1, 3, 32, 32], values: b))
        }
    }

    func model(_ objective: GANObjective, seed: UInt64 = 7) throws -> (Pix2PixModel, Adam, Adam) {
        let random = RandomSource(seed: seed)
        let g = try Generator(.resnet(blocks: 1, ngf: 8, norm: .none, dropout: false))
        let d = try Discriminator(.nLayers(2, ndf: 8, norm: .none, inputChannels: 6))
        try g.root.initializeWeights(.normal, gain: 0.02, random: random)
        try d.root.initializeWeights(.normal, gain: 0.02, random: random)
        let m = Pix2PixModel(generator: g, discriminator: d, objective: objective, lambdaL1: 10,
                             penalty: GradientPenalty(lambda: 10), random: random,
                             context: TrainingContext(backend: Backends.direct))
        let optG = try Adam(parameters: g.root.parameters(prefix: "G."), lr: 2e-4, betas: (0.5, 0.999))
        let optD = try Adam(parameters: d.root.parameters(prefix: "D."), lr: 2e-4, betas: (0.5, 0.999))
        return (m, optG, optD)
    }

    /// Mean critic output on real pairs minus on generated pairs.
    func gap(_ m: Pix2PixModel, _ data: [(a: Tensor, b: Tensor)]) throws -> Double {
        let context = ForwardContext(backend: Backends.direct)
        var total = 0.0
        for (a, b) in data {
            let fake = try m.generator.forward(a, context: context)
            let real = try m.discriminator.forward(concatChannels([a, b]), context: context).values
            let generated = try m.discriminator.forward(concatChannels([a, fake]), context: context).values
            total += real.map(Double.init).reduce(0, +) / Double(real.count) - generated.map(Double.init).reduce(0, +) / Double(generated.count)
        }
        return total / Double(data.count)
    }

    @Test(arguments: GANObjective.allCases)
    func eachObjectiveTrainsACritic(_ objective: GANObjective) throws {
        let data = try Self.pairs(2)
        let (m, optG, optD) = try model(objective)
        var names: [String] = []
        // WGAN-GP's critic spends its first steps raising its input-gradient norm from ~0 towards
        // 1 (the penalty starts near λ = 10 and dwarfs the critic terms), so it gets longer.
        for step in 0..<(objective == .wgangp ? 60 : 24) {
            let (a, b) = data[step % data.count]
            // The Wasserstein critics train with n_critic 5, as their papers do.
            let critics = objective == .wgan || objective == .wgangp ? 5 : 1
            let updateGenerator = step % critics == critics - 1
            let losses = try m.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD, updateGenerator: updateGenerator).named
            names = losses.map(\.0)
            for (name, value) in losses where updateGenerator || !Pix2PixModel.Losses.generatorTerms.contains(name) {
                #expect(value.isFinite, "\(objective.rawValue) \(name) at step \(step): \(value)")
            }
        }
        #expect(names.contains("D_GP") == (objective == .wgangp))
        let after = try gap(m, data)
        print("\(objective.rawValue): critic gap \(after)")
        #expect(after > 0, "\(objective.rawValue): the critic should score real pairs above generated ones")
    }

    /// WGAN's critic gap (its estimate of the Wasserstein distance) grows from ~0 as the critic
    /// trains, and stays bounded by the clipping.
    @Test func wganCriticGapGrowsAndClippingHolds() throws {
        let data = try Self.pairs(2)
        let (m, optG, optD) = try model(.wgan)
        m.clip = 0.05
        let start = try gap(m, data)
        var gaps: [Double] = []
        for step in 0..<30 {
            let (a, b) = data[step % 2]
            _ = try m.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD, updateGenerator: step % 5 == 4)
            for (name, v) in m.discriminator.root.parameters() {
                #expect(v.data.values.allSatisfy { abs($0) <= 0.05 }, "\(name) outside ±clip")
            }
            if step % 10 == 9 { gaps.append(try gap(m, data)) }
        }
        print("WGAN critic gap: start \(start), then \(gaps)")
        #expect(gaps.last! > start + 1e-3)
        #expect(gaps.allSatisfy { $0.isFinite })
    }

    /// With n_critic, critic-only iterations leave G untouched and report NaN for its terms.
    @Test func criticOnlyIterationsLeaveTheGeneratorAlone() throws {
        let data = try Self.pairs(1)
        let (m, optG, optD) = try model(.wgangp)
        let before = m.generator.root.parameters().map { $0.variable.data.values }
        let losses = try m.optimize(realA: data[0].a, realB: data[0].b, optimizerG: optG, optimizerD: optD, updateGenerator: false)
        #expect(m.generator.root.parameters().map { $0.variable.data.values } == before)
        #expect(losses.gGAN.isNaN && losses.gL1.isNaN)
        #expect(losses.dGP.map { $0.isFinite && $0 > 0 } == true)
        _ = try m.optimize(realA: data[0].a, realB: data[0].b, optimizerG: optG, optimizerD: optD)
        #expect(m.generator.root.parameters().map { $0.variable.data.values } != before)
    }

    /// WGAN-GP with the recipes' own normalised critics (pix2pix's batch norm, CycleGAN's
    /// instance norm): the penalty reaches γ and the layers before the norms, stays finite and
    /// falls from its start (hundreds: a fresh normalised critic's input gradients are large), and
    /// the critic's estimate of the distance to a fixed generator grows positive.
    @Test(arguments: [GeneratorArchitecture.Norm.batch, .instance])
    func wganGPTrainsANormalisedCritic(_ norm: GeneratorArchitecture.Norm) throws {
        let data = try Self.pairs(2)
        let random = RandomSource(seed: 7)
        let g = try Generator(.resnet(blocks: 1, ngf: 8, norm: norm, dropout: false))
        let d = try Discriminator(.nLayers(2, ndf: 8, norm: norm, inputChannels: 6))
        try g.root.initializeWeights(.normal, gain: 0.02, random: random)
        try d.root.initializeWeights(.normal, gain: 0.02, random: random)
        let m = Pix2PixModel(generator: g, discriminator: d, objective: .wgangp, lambdaL1: 10,
                             penalty: GradientPenalty(lambda: 10), random: random,
                             context: TrainingContext(backend: Backends.direct))
        let optG = try Adam(parameters: g.root.parameters(prefix: "G."), lr: 2e-4, betas: (0.5, 0.999))
        let optD = try Adam(parameters: d.root.parameters(prefix: "D."), lr: 2e-4, betas: (0.5, 0.999))
        var penalties: [Double] = [], estimates: [Double] = []
        // G stays as initialised: what is measured is the critic learning under the penalty.
        for step in 0..<300 {
            let (a, b) = data[step % 2]
            let losses = try m.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD, updateGenerator: false)
            penalties.append(try #require(losses.dGP))
            // The critic terms are −mean D(real) and mean D(fake): their negated sum is the
            // critic's Wasserstein estimate, in training mode as the critic sees the batch.
            estimates.append(-(losses.dReal + losses.dFake))
            #expect(losses.dReal.isFinite && losses.dFake.isFinite)
        }
        let early: Double = estimates.prefix(10).reduce(0, +) / 10, late: Double = estimates.suffix(10).reduce(0, +) / 10
        print("wgangp, \(norm) critic: penalty \(penalties.prefix(3)) … \(penalties.suffix(3)), estimate \(early) → \(late)")
        #expect(penalties.allSatisfy { $0.isFinite && $0 >= 0 })
        // The critic works the penalty down from its start.
        let first: Double = penalties.prefix(10).reduce(0, +), last: Double = penalties.suffix(10).reduce(0, +)
        #expect(last < 0.5 * first)
        #expect(late > 0 && late > early)
    }

    @Test func wganGPTakesTheRecipesNorms() throws {
        for recipe in [TrainingRecipe.pix2pix, .cyclegan, .dcgan] {
            var o = TrainingOptions.defaults(for: recipe)
            (o.data, o.run) = ("d", "r")
            try o.set("gan-mode", to: "wgangp")
            try o.validate()
        }
    }

    /// A loss that overflows stops the run with a one-line error and keeps the last checkpoints.
    @Test func aDivergingRunStopsWithoutSavingItsWeights() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 {
            try dir.write("data/trainA/\(i).png", try TestImages.png(width: 32, height: 32, seed: i))
            try dir.write("data/trainB/\(i).png", try TestImages.png(width: 32, height: 32, seed: 5 + i))
        }
        let options = try TrainingOptions.resolve(.cyclegan, flags: [
            ("data", dir.path("data")), ("run", dir.path("run")), ("net-g", "resnet_6blocks"), ("ngf", "4"), ("ndf", "4"),
            ("preprocess", "none"), ("n-epochs", "2"), ("n-epochs-decay", "0"), ("gan-mode", "kl"), ("lr", "1e30"),
            ("seed", "1"), ("pool-size", "0"), ("lambda-identity", "0"),
        ])
        let trainer = try Trainer(options, backend: Backends.direct)
        #expect { try trainer.train() } throws: { error in
            guard let e = error as? TrainingError else { return false }
            return e.code == .diverged && e.message.contains("became") && !e.message.contains("\n")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("run/latest_net_G_A.pth")))
    }
}
