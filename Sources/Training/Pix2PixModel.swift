import Engine
import Models

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
    public var context: TrainingContext

    public init(generator: Generator, discriminator: Discriminator, objective: GANObjective = .vanilla, lambdaL1: Float = 100,
                context: TrainingContext) {
        self.generator = generator
        self.discriminator = discriminator
        self.objective = objective
        self.lambdaL1 = lambdaL1
        self.context = context
    }

    /// The losses of one step, named as the reference prints them.
    public struct Losses: Sendable {
        public init() {}
        public var dReal = 0.0, dFake = 0.0, gGAN = 0.0, gL1 = 0.0
        public var named: [(String, Double)] { [("G_GAN", gGAN), ("G_L1", gL1), ("D_real", dReal), ("D_fake", dFake)] }
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
        let predReal = try discriminator.forward(concatChannels([a, Variable(realB)]), context: context)
        let lossReal = try objective.loss(predReal, real: true)
        try scale(add(lossFake, lossReal), by: 0.5).backward()
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

    /// One full `optimize_parameters`.
    public func optimize(realA: Tensor, realB: Tensor, optimizerG: Adam, optimizerD: Adam) throws -> Losses {
        var losses = Losses()
        let fake = try forward(realA)
        optimizerD.zeroGrad()
        try backwardD(realA: realA, realB: realB, fake: fake, losses: &losses)
        try optimizerD.step()
        optimizerG.zeroGrad()
        try backwardG(realA: realA, realB: realB, fake: fake, losses: &losses)
        try optimizerG.step()
        return losses
    }
}
