import Engine
import Models
import Runs

/// CUT's and FastCUT's training step (taesungp/contrastive-unpaired-translation,
/// `models/cut_model.py`): one generator G: A→B, one discriminator D judging B, and PatchSampleF
/// F, whose heads project G's encoder features for the PatchNCE loss.
///
/// The order is CUT's `optimize_parameters`: the forward (with `nce_idt`, G runs on A and B in
/// one batch, and FastCUT may flip that batch); the D step (lsgan by default, ×0.5); then G and F
/// together with D frozen: λ_GAN·GAN(D(G(A))) + the NCE loss of (A, G(A)) — averaged with that
/// of (B, G(B)) with `nce_idt` —, Adam on G, then on F.
public final class CUTModel {
    public let generator: Generator, discriminator: Discriminator, sampler: PatchSampleF
    public var objective: GANObjective
    public var lambdaGAN: Float, lambdaNCE: Float
    /// NCE of (B, G(B)) as well (CUT: on; FastCUT: off).
    public var nceIdentity: Bool
    /// Indices of G's Sequential whose outputs the NCE loss compares (`--nce_layers`).
    public var layers: [Int]
    public var patches: Int, temperature: Float
    /// FastCUT's random horizontal flip of the whole batch before G, undone on the features.
    public var flipEquivariance: Bool
    public var context: TrainingContext
    let random: RandomSource

    public init(generator: Generator, discriminator: Discriminator, sampler: PatchSampleF, objective: GANObjective = .lsgan,
                lambdaGAN: Float = 1, lambdaNCE: Float = 1, nceIdentity: Bool = true, layers: [Int] = [0, 4, 8, 12, 16],
                patches: Int = 256, temperature: Float = 0.07, flipEquivariance: Bool = false, random: RandomSource,
                context: TrainingContext) {
        self.generator = generator
        self.discriminator = discriminator
        self.sampler = sampler
        self.objective = objective
        self.lambdaGAN = lambdaGAN
        self.lambdaNCE = lambdaNCE
        self.nceIdentity = nceIdentity
        self.layers = layers
        self.patches = patches
        self.temperature = temperature
        self.flipEquivariance = flipEquivariance
        self.random = random
        self.context = context
    }

    /// The losses of one step, named as CUT prints them (`NCE_Y` only with `nce_idt`).
    public struct Losses: Sendable {
        public init() {}
        public var gGAN = 0.0, dReal = 0.0, dFake = 0.0, g = 0.0, nce = 0.0
        public var nceY: Double?
        public var named: [(String, Double)] {
            [("G_GAN", gGAN), ("D_real", dReal), ("D_fake", dFake), ("G", g), ("NCE", nce)] + (nceY.map { [("NCE_Y", $0)] } ?? [])
        }
    }

    /// `forward()`: fake_B = G(A) and, with `nce_idt`, idt_B = G(B), from one batch.
    public struct Translation {
        public let fakeB: Variable, idtB: Variable?
        /// Whether FastCUT flipped the batch (the NCE loss flips the features back).
        public let flipped: Bool
    }

    public func forward(realA: Tensor, realB: Tensor, flip: Bool = false) throws -> Translation {
        if nceIdentity && Array(realA.shape.dropFirst()) != Array(realB.shape.dropFirst()) {
            throw TrainingError(.invalidSetting, "CUT's NCE identity runs G on A and B in one batch, so they must have one size; got \(realA.shape.dropFirst().map(String.init).joined(separator: "×")) and \(realB.shape.dropFirst().map(String.init).joined(separator: "×")): crop them to one size (--preprocess resize_and_crop or crop) or set --nce-idt=false")
        }
        var real = nceIdentity ? try Tensor(stacking: [realA, realB]) : realA
        if flip { real = try flipWidth(real) }
        let fake = try generator.forward(Variable(real), context: context)
        let n = realA.shape[0]
        guard nceIdentity else { return Translation(fakeB: fake, idtB: nil, flipped: flip) }
        return Translation(fakeB: try sliceBatch(fake, 0..<n), idtB: try sliceBatch(fake, n..<fake.shape[0]), flipped: flip)
    }

    /// `compute_D_loss().backward()`: (GAN(D(fake_B.detach()), fake) + GAN(D(B), real)) · 0.5.
    public func backwardD(realB: Tensor, _ t: Translation, losses: inout Losses) throws {
        let fake = try objective.loss(discriminator.forward(t.fakeB.detached(), context: context), real: false)
        let real = try objective.loss(discriminator.forward(Variable(realB), context: context), real: true)
        let loss = try scale(add(fake, real), by: 0.5)
        try loss.backward()
        (losses.dFake, losses.dReal) = (fake.scalar, real.scalar)
    }

    /// `calculate_NCE_loss(src, tgt)`: G's encoder on both, the same positions sampled from
    /// each layer (`ids`, drawn when nil), PatchNCE per layer × λ_NCE, averaged over the layers.
    /// Only the target side carries gradients (CUT detaches the keys).
    public func nceLoss(source: Tensor, target: Variable, flipped: Bool, ids: [[Int]]? = nil) throws -> (loss: Variable, ids: [[Int]]) {
        var queries = try generator.features(target, layers: layers, context: context)
        if flipped { queries = try queries.map { try flipWidth($0) } }
        let sourceFeatures = try generator.features(Variable(source), layers: layers, context: context)
        let ids = ids ?? PatchSampleF.drawIDs(for: sourceFeatures, patches: patches, random: random)
        let keys = try sampler(sourceFeatures, ids: ids, context: context).map(\.data)
        let q = try sampler(queries, ids: ids, context: context)
        var total: Variable?
        for (qi, ki) in zip(q, keys) {
            let term = try scale(patchNCELoss(qi, keys: ki, images: source.shape[0], temperature: temperature), by: lambdaNCE)
            total = try total.map { try add($0, term) } ?? term
        }
        return (try scale(total!, by: 1 / Float(layers.count)), ids)
    }

    /// `compute_G_loss().backward()` with D frozen. `ids` replaces the drawn positions (NCE, then
    /// NCE_Y), for checks against PyTorch.
    public func backwardG(realA: Tensor, realB: Tensor, _ t: Translation, losses: inout Losses, ids: [[[Int]]]? = nil) throws {
        discriminator.root.setRequiresGrad(false)
        defer { discriminator.root.setRequiresGrad(true) }
        let gan = try scale(objective.loss(discriminator.forward(t.fakeB, context: context), real: true, forGenerator: true), by: lambdaGAN)
        let nce = try nceLoss(source: realA, target: t.fakeB, flipped: t.flipped, ids: ids?.first).loss
        var both = nce
        if let idtB = t.idtB {
            let nceY = try nceLoss(source: realB, target: idtB, flipped: t.flipped, ids: ids.map { $0[1] }).loss
            both = try scale(add(nce, nceY), by: 0.5)
            losses.nceY = nceY.scalar
        }
        let loss = try add(gan, both)
        try loss.backward()
        (losses.gGAN, losses.nce, losses.g) = (gan.scalar, nce.scalar, loss.scalar)
    }

    /// One `optimize_parameters`: forward, the D step, then G and F.
    public func optimize(realA: Tensor, realB: Tensor, optimizerG: any Optimizer, optimizerD: any Optimizer,
                         optimizerF: any Optimizer) throws -> Losses {
        var losses = Losses()
        let flip = flipEquivariance && random.nextUnit() < 0.5
        let t = try forward(realA: realA, realB: realB, flip: flip)
        optimizerD.zeroGrad()
        try backwardD(realB: realB, t, losses: &losses)
        try optimizerD.step()
        optimizerG.zeroGrad()
        optimizerF.zeroGrad()
        try backwardG(realA: realA, realB: realB, t, losses: &losses)
        try optimizerG.step()
        try optimizerF.step()
        return losses
    }
}
