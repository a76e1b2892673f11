import Engine
import Models
import Runs

/// StarGAN's training step (yunjey/stargan's `Solver.train()`): one generator G(x, c) for every
/// domain, and a critic with two heads — real/fake (WGAN-GP) and domain classification.
///
/// The order is the solver's: the D step (−mean D(x) + mean D(G(x, c_trg)) + λ_cls·cls(x, c_org)
/// + λ_gp·GP), Adam on D; then, every n_critic iterations, the G step through the updated D
/// (−mean D(G(x, c_trg)) + λ_rec·L1(x, G(G(x, c_trg), c_org)) + λ_cls·cls(G(x, c_trg), c_trg)),
/// Adam on G. G's instance norms normalise with per-image statistics and fold them into their
/// running buffers on every pass, as the solver (which never calls `eval()`) does.
public final class StarGANModel {
    /// How the domains are labelled.
    public enum Labels: String, Codable, Sendable, CaseIterable {
        /// Multi-hot attributes (CelebA): BCE with logits summed over attributes, per image.
        case attributes
        /// One domain per image (a folder per domain, RaFD): cross-entropy; conditions one-hot.
        case domains
    }

    public let generator: Generator
    public let discriminator: Discriminator
    public let labels: Labels
    public var lambdaClassification: Float = 1
    public var lambdaReconstruction: Float = 10
    /// StarGAN's penalty: λ 10, no epsilon inside the norm.
    public var penalty = GradientPenalty(lambda: 10, epsilon: 0)
    public var context: TrainingContext
    let random: RandomSource

    public init(generator: Generator, discriminator: Discriminator, labels: Labels, random: RandomSource,
                context: TrainingContext) {
        self.generator = generator
        self.discriminator = discriminator
        self.labels = labels
        self.random = random
        self.context = context
    }

    /// The losses of one iteration, named as the solver logs them (the penalty unweighted).
    public struct Losses: Sendable {
        public var dReal = 0.0, dFake = 0.0, dClassification = 0.0, dPenalty = 0.0
        /// NaN on a critic-only iteration.
        public var gFake = Double.nan, gReconstruction = Double.nan, gClassification = Double.nan
        public var named: [(String, Double)] {
            [("D/loss_real", dReal), ("D/loss_fake", dFake), ("D/loss_cls", dClassification), ("D/loss_gp", dPenalty),
             ("G/loss_fake", gFake), ("G/loss_rec", gReconstruction), ("G/loss_cls", gClassification)]
        }
        public static let generatorTerms: Set<String> = ["G/loss_fake", "G/loss_rec", "G/loss_cls"]
    }

    /// The domain-classification loss of `logits` (N×c) against `target` (N×c, 0/1).
    func classification(_ logits: Variable, _ target: Tensor) throws -> Variable {
        switch labels {
        case .attributes:
            // BCE summed over the attributes, averaged over images: the mean × c.
            return try scale(bceWithLogits(logits, .tensor(target)), by: Float(target.shape[1]))
        case .domains:
            let c = target.shape[1]
            let indices = try target.withUnsafeBufferPointer { t in
                try (0..<target.shape[0]).map { row throws(TrainingError) -> Int in
                    let values = Array(t[(row * c)..<((row + 1) * c)])
                    guard values.filter({ $0 != 0 }).count == 1, let k = values.firstIndex(of: 1) else {
                        throw TrainingError(.invalidSetting, "StarGAN domain labels must be one-hot; row \(row) is \(values)")
                    }
                    return k
                }
            }
            return try crossEntropy(logits, targets: indices)
        }
    }

    /// One iteration on images `x` (N×3×H×W in [−1, 1]) with their labels and the target labels
    /// (the solver permutes the batch's labels). `alpha` fixes the penalty's interpolation
    /// weights (drawn from the model's generator when nil).
    public func optimize(images x: Tensor, labels original: Tensor, targets: Tensor, alpha: [Float]? = nil,
                         optimizerG: any Optimizer, optimizerD: any Optimizer, updateGenerator: Bool = true) throws -> Losses {
        guard original.shape == targets.shape, original.rank == 2, original.shape[0] == x.shape[0] else {
            throw TrainingError(.shapeMismatch, "StarGAN step: labels \(original.shape) and targets \(targets.shape) do not fit images \(x.shape)")
        }
        var losses = Losses()
        optimizerG.zeroGrad()
        optimizerD.zeroGrad()
        discriminator.root.setRequiresGrad(true)
        let (sourceReal, classesReal) = try discriminator.starGANHeads(Variable(x), context: context)
        let dReal = try scale(mean(sourceReal), by: -1)
        let dClassification = try classification(classesReal, original)
        // The solver detaches this fake: G records nothing here (its buffers still update).
        generator.root.setRequiresGrad(false)
        let fake = try generator.forward(Variable(x), condition: targets, context: context)
        generator.root.setRequiresGrad(true)
        let (sourceFake, _) = try discriminator.starGANHeads(fake.detached(), context: context)
        let dFake = try mean(sourceFake)
        let gp = try penalty(critic: { try discriminator.forward($0, context: context) }, real: x, fake: fake.data,
                             alpha: alpha ?? GradientPenalty.drawAlpha(count: x.shape[0], random: random, shard: context.shard))
        let dLoss = try add(add(add(dReal, dFake), scale(dClassification, by: lambdaClassification)), gp)
        try dLoss.backward()
        try optimizerD.step()
        (losses.dReal, losses.dFake, losses.dClassification) = (dReal.scalar, dFake.scalar, dClassification.scalar)
        losses.dPenalty = penalty.lambda > 0 ? gp.scalar / Double(penalty.lambda) : 0
        guard updateGenerator else { return losses }

        optimizerG.zeroGrad()
        optimizerD.zeroGrad()
        discriminator.root.setRequiresGrad(false)
        defer { discriminator.root.setRequiresGrad(true) }
        let translated = try generator.forward(Variable(x), condition: targets, context: context)
        let (source, classes) = try discriminator.starGANHeads(translated, context: context)
        let gFake = try scale(mean(source), by: -1)
        let gClassification = try classification(classes, targets)
        let reconstructed = try generator.forward(translated, condition: original, context: context)
        let gReconstruction = try l1(reconstructed, .tensor(x))
        let gLoss = try add(add(gFake, scale(gReconstruction, by: lambdaReconstruction)),
                            scale(gClassification, by: lambdaClassification))
        try gLoss.backward()
        try optimizerG.step()
        (losses.gFake, losses.gReconstruction, losses.gClassification) = (gFake.scalar, gReconstruction.scalar, gClassification.scalar)
        return losses
    }
}
