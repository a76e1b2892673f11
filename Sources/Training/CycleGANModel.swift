import Engine
import Models
import Runs

/// CycleGAN's training step (the reference's `CycleGANModel.optimize_parameters`): two
/// generators G_A: A→B and G_B: B→A, two discriminators D_A (judges B) and D_B (judges A),
/// adversarial + cycle-consistency (λ_A, λ_B) + identity (λ_idt) losses.
///
/// The order is the reference's: the four translations; the G step with both D frozen; Adam
/// on both G; then D_A and D_B each back-propagate (accumulating into one optimizer) on images
/// drawn from the fake pools; Adam on both D.
public final class CycleGANModel {
    public let generatorA: Generator, generatorB: Generator
    public let discriminatorA: Discriminator, discriminatorB: Discriminator
    public var objective: GANObjective
    public var lambdaA: Float, lambdaB: Float, lambdaIdentity: Float
    /// WGAN's clipping bound for the critics' weights (`objective.clipsWeights`).
    public var clip: Float = 0.01
    /// Applied with `objective.hasGradientPenalty`; nil or λ 0: none.
    public var penalty: GradientPenalty?
    public var context: TrainingContext
    public let fakeAPool: ImagePool, fakeBPool: ImagePool
    let random: RandomSource

    public init(generatorA: Generator, generatorB: Generator, discriminatorA: Discriminator, discriminatorB: Discriminator,
                objective: GANObjective = .lsgan, lambdaA: Float = 10, lambdaB: Float = 10, lambdaIdentity: Float = 0.5,
                poolSize: Int = 50, penalty: GradientPenalty? = nil, random: RandomSource, context: TrainingContext) throws {
        self.generatorA = generatorA
        self.generatorB = generatorB
        self.discriminatorA = discriminatorA
        self.discriminatorB = discriminatorB
        self.objective = objective
        self.lambdaA = lambdaA
        self.lambdaB = lambdaB
        self.lambdaIdentity = lambdaIdentity
        self.penalty = penalty
        self.random = random
        self.context = context
        fakeAPool = try ImagePool(size: poolSize, random: random)
        fakeBPool = try ImagePool(size: poolSize, random: random)
    }

    /// The losses of one step, named as the reference prints them.
    public struct Losses: Sendable {
        public init() {}
        public var dA = 0.0, gA = 0.0, cycleA = 0.0, idtA = 0.0, dB = 0.0, gB = 0.0, cycleB = 0.0, idtB = 0.0
        /// WGAN-GP's penalty terms of D_A and D_B, when applied (included in D_A and D_B).
        public var gpA: Double?, gpB: Double?
        public var named: [(String, Double)] {
            [("D_A", dA), ("G_A", gA), ("cycle_A", cycleA), ("idt_A", idtA), ("D_B", dB), ("G_B", gB),
             ("cycle_B", cycleB), ("idt_B", idtB)] + (gpA.map { [("GP_A", $0)] } ?? []) + (gpB.map { [("GP_B", $0)] } ?? [])
        }
        /// The generators' terms: NaN (left out of the curves) on a critic-only iteration.
        public static let generatorTerms: Set<String> = ["G_A", "cycle_A", "idt_A", "G_B", "cycle_B", "idt_B"]
    }

    /// The translations of `forward()`: fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B), rec_B = G_A(fake_A).
    public struct Translations {
        public let fakeB: Variable, recA: Variable, fakeA: Variable, recB: Variable
    }

    public func forward(realA: Tensor, realB: Tensor) throws -> Translations {
        let fakeB = try generatorA.forward(Variable(realA), context: context)
        let recA = try generatorB.forward(fakeB, context: context)
        let fakeA = try generatorB.forward(Variable(realB), context: context)
        let recB = try generatorA.forward(fakeA, context: context)
        return Translations(fakeB: fakeB, recA: recA, fakeA: fakeA, recB: recB)
    }

    /// `backward_G` with D_A and D_B frozen.
    public func backwardG(realA: Tensor, realB: Tensor, _ t: Translations, losses: inout Losses) throws {
        discriminatorA.root.setRequiresGrad(false)
        discriminatorB.root.setRequiresGrad(false)
        defer { discriminatorA.root.setRequiresGrad(true); discriminatorB.root.setRequiresGrad(true) }
        var terms: [Variable] = []
        if lambdaIdentity > 0 {
            // G_A should be the identity on B, G_B on A.
            let idtA = try scale(l1(generatorA.forward(Variable(realB), context: context), .tensor(realB)), by: lambdaB * lambdaIdentity)
            let idtB = try scale(l1(generatorB.forward(Variable(realA), context: context), .tensor(realA)), by: lambdaA * lambdaIdentity)
            losses.idtA = idtA.scalar
            losses.idtB = idtB.scalar
            terms += [idtA, idtB]
        }
        let gA = try objective.loss(discriminatorA.forward(t.fakeB, context: context), real: true, forGenerator: true)
        let gB = try objective.loss(discriminatorB.forward(t.fakeA, context: context), real: true, forGenerator: true)
        let cycleA = try scale(l1(t.recA, .tensor(realA)), by: lambdaA)
        let cycleB = try scale(l1(t.recB, .tensor(realB)), by: lambdaB)
        terms = [gA, gB, cycleA, cycleB] + terms
        try terms.dropFirst().reduce(terms[0]) { try add($0, $1) }.backward()
        (losses.gA, losses.gB, losses.cycleA, losses.cycleB) = (gA.scalar, gB.scalar, cycleA.scalar, cycleB.scalar)
    }

    /// `backward_D_basic`: (GAN(D(real), real) + GAN(D(fake.detach()), fake)) · 0.5, with
    /// WGAN-GP's penalty inside the ×0.5 when applied. Returns the loss and the penalty.
    func backwardD(_ d: Discriminator, real: Tensor, fake: Tensor) throws -> (loss: Double, penalty: Double?) {
        let lossReal = try objective.loss(d.forward(Variable(real), context: context), real: true)
        let lossFake = try objective.loss(d.forward(Variable(fake), context: context), real: false)
        var total = try add(lossReal, lossFake), gp: Variable?
        if objective.hasGradientPenalty, let penalty, penalty.lambda > 0 {
            let p = try penalty(critic: { try d.forward($0, context: context) }, real: real, fake: fake,
                                alpha: GradientPenalty.drawAlpha(count: real.shape[0], random: random, shard: context.shard))
            total = try add(total, p)
            gp = p
        }
        let loss = try scale(total, by: 0.5)
        try loss.backward()
        return (loss.scalar, gp?.scalar)
    }

    /// `backward_D_A` then `backward_D_B`, each on an image drawn from its fake pool.
    public func backwardD(realA: Tensor, realB: Tensor, _ t: Translations, losses: inout Losses) throws {
        (losses.dA, losses.gpA) = try backwardD(discriminatorA, real: realB, fake: pooled(fakeBPool, t.fakeB.data))
        (losses.dB, losses.gpB) = try backwardD(discriminatorB, real: realA, fake: pooled(fakeAPool, t.fakeA.data))
    }

    /// The pool's answer for `fakes`. A rank of a data-parallel job holds a replica of the one
    /// pool: every rank queries it with the global batch's fakes (same draws, same contents) and
    /// keeps its own rows, so N ranks see what one process would.
    func pooled(_ pool: ImagePool, _ fakes: Tensor) throws -> Tensor {
        guard pool.size > 0, let shard = context.shard, let gather = shard.gather else { return try pool.query(fakes) }
        let answer = try pool.query(try gather(fakes))
        return try Tensor(stacking: (shard.offset..<(shard.offset + fakes.shape[0])).map { try answer.image($0) })
    }

    /// One full `optimize_parameters`.
    /// Without `updateGenerator` (n_critic > 1) only the D step, and the G terms are NaN.
    public func optimize(realA: Tensor, realB: Tensor, optimizerG: any Optimizer, optimizerD: any Optimizer,
                         updateGenerator: Bool = true) throws -> Losses {
        var losses = Losses()
        let t = try forward(realA: realA, realB: realB)
        if updateGenerator {
            optimizerG.zeroGrad()
            try backwardG(realA: realA, realB: realB, t, losses: &losses)
            try optimizerG.step()
        } else {
            (losses.gA, losses.gB, losses.cycleA, losses.cycleB, losses.idtA, losses.idtB) = (.nan, .nan, .nan, .nan, .nan, .nan)
        }
        optimizerD.zeroGrad()
        try backwardD(realA: realA, realB: realB, t, losses: &losses)
        try optimizerD.step()
        if objective.clipsWeights {
            clipWeights(discriminatorA.root, to: clip)
            clipWeights(discriminatorB.root, to: clip)
        }
        return losses
    }
}
