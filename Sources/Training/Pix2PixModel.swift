import Engine
import Models
import Runs

/// pix2pix's training step (the reference's `Pix2PixModel.optimize_parameters`): a conditional
/// GAN whose discriminator judges (A, B) pairs, plus λ·L1 pulling G(A) toward B.
///
/// The order is the reference's: G(A) once; the D step on that output, detached; Adam on D; then
/// the G step through the *updated* D (with D frozen); Adam on G.
public final class Pix2PixModel {
    public let generator: Generator
    /// Judges `cat(A, B)` (input channels = A's + B's).
    public let discriminator: Discriminator
    public var objective: GANObjective
    public var lambdaL1: Float
    /// WGAN's clipping bound for the critic's weights (`objective.clipsWeights`).
    public var clip: Float = 0.01
    /// Applied with `objective.hasGradientPenalty`, on cat(A, B) pairs; nil or λ 0: none.
    public var penalty: GradientPenalty?
    public var context: TrainingContext
    /// Draws the penalty's interpolation weights.
    let random: RandomSource

    public init(generator: Generator, discriminator: Discriminator, objective: GANObjective = .vanilla, lambdaL1: Float = 100,
                penalty: GradientPenalty? = nil, random: RandomSource = RandomSource(seed: 0), context: TrainingContext) {
        self.generator = generator
        self.discriminator = discriminator
        self.objective = objective
        self.lambdaL1 = lambdaL1
        self.penalty = penalty
        self.random = random
        self.context = context
    }

    /// The losses of one step, named as the reference prints them.
    public struct Losses: Sendable {
        public init() {}
        public var dReal = 0.0, dFake = 0.0, gGAN = 0.0, gL1 = 0.0
        /// WGAN-GP's penalty term, when one is applied.
        public var dGP: Double?
        public var named: [(String, Double)] {
            [("G_GAN", gGAN), ("G_L1", gL1), ("D_real", dReal), ("D_fake", dFake)] + (dGP.map { [("D_GP", $0)] } ?? [])
        }
        /// The generator's terms: NaN (left out of the curves) on a critic-only iteration.
        public static let generatorTerms: Set<String> = ["G_GAN", "G_L1"]
    }

    /// `fake_B = G(real_A)`, recorded for the G step's backward.
    public func forward(_ realA: Tensor) throws -> Variable {
        try generator.forward(Variable(realA), context: context)
    }

    /// `backward_D`: (GAN(D(A, fake).detach(), fake) + GAN(D(A, B), real)) · 0.5, back-propagated
    /// into D's gradients (which accumulate: call `zeroGrad` on its parameters first).
    public func backwardD(realA: Tensor, realB: Tensor, fake: Variable, losses: inout Losses) throws {
        discriminator.root.setRequiresGrad(true)
        let a = Variable(realA)
        let predFake = try discriminator.forward(concatChannels([a, fake.detached()]), context: context)
        let lossFake = try objective.loss(predFake, real: false)
        let realAB = try concatChannels([a, Variable(realB)])
        let predReal = try discriminator.forward(realAB, context: context)
        let lossReal = try objective.loss(predReal, real: true)
        var total = try add(lossFake, lossReal)
        if objective.hasGradientPenalty, let penalty, penalty.lambda > 0 {
            // Inside the reference's ×0.5, so penalty and critic terms keep the paper's ratio.
            let gp = try penalty(critic: { try discriminator.forward($0, context: context) }, real: realAB.data,
                                 fake: concatChannels([realA, fake.data]),
                                 alpha: GradientPenalty.drawAlpha(count: realA.shape[0], random: random, shard: context.shard))
            total = try add(total, gp)
            losses.dGP = gp.scalar
        }
        try scale(total, by: 0.5).backward()
        losses.dFake = lossFake.scalar
        losses.dReal = lossReal.scalar
    }

    /// `backward_G`: GAN(D(A, fake), real) + λ·L1(fake, B) with D frozen.
    public func backwardG(realA: Tensor, realB: Tensor, fake: Variable, losses: inout Losses) throws {
        discriminator.root.setRequiresGrad(false)
        defer { discriminator.root.setRequiresGrad(true) }
        let pred = try discriminator.forward(concatChannels([Variable(realA), fake]), context: context)
        let gan = try objective.loss(pred, real: true, forGenerator: true)
        let l1Loss = try scale(l1(fake, .tensor(realB)), by: lambdaL1)
        try add(gan, l1Loss).backward()
        losses.gGAN = gan.scalar
        losses.gL1 = l1Loss.scalar
    }

    /// One full `optimize_parameters`; without `updateGenerator` (n_critic > 1) only the D step,
    /// and the G terms are NaN.
    public func optimize(realA: Tensor, realB: Tensor, optimizerG: any Optimizer, optimizerD: any Optimizer,
                         updateGenerator: Bool = true) throws -> Losses {
        var losses = Losses()
        let fake = try forward(realA)
        optimizerD.zeroGrad()
        try backwardD(realA: realA, realB: realB, fake: fake, losses: &losses)
        try optimizerD.step()
        if objective.clipsWeights { clipWeights(discriminator.root, to: clip) }
        guard updateGenerator else {
            (losses.gGAN, losses.gL1) = (.nan, .nan)
            return losses
        }
        optimizerG.zeroGrad()
        try backwardG(realA: realA, realB: realB, fake: fake, losses: &losses)
        try optimizerG.step()
        return losses
    }
}
