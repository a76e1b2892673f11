import Engine

/// The adversarial loss of a GAN: how a discriminator's (critic's) output on real and generated
/// images becomes a loss — the reference's `GANLoss` modes plus hinge.
public enum GANObjective: String, Codable, Sendable, CaseIterable {
    /// The original GAN, non-saturating for G: BCE with logits against 1 (real) / 0 (fake).
    case vanilla
    /// Least squares (LSGAN): MSE against 1 / 0. The reference's CycleGAN default.
    case lsgan
    /// Wasserstein critic terms as the reference writes them: −mean for real, +mean for fake.
    /// (The reference never adds the gradient penalty; neither does this objective by itself.)
    case wgangp
    /// Hinge (SAGAN, BigGAN): D minimises mean(max(0, 1 − D(real))) + mean(max(0, 1 + D(fake)));
    /// G minimises −mean(D(fake)).
    case hinge

    /// The loss of `prediction` judged as `real` or fake. `forGenerator` matters only for hinge,
    /// whose generator term differs from its discriminator terms; the other modes are the same
    /// function for both players, as in the reference (G asks for "real").
    public func loss(_ prediction: Variable, real: Bool, forGenerator: Bool = false) throws -> Variable {
        switch self {
        case .vanilla: return try bceWithLogits(prediction, .constant(real ? 1 : 0))
        case .lsgan: return try mse(prediction, .constant(real ? 1 : 0))
        case .wgangp: return try scale(mean(prediction), by: real ? -1 : 1)
        case .hinge:
            if forGenerator { return try scale(mean(prediction), by: real ? -1 : 1) }
            return try meanHinge(prediction, sign: real ? -1 : 1)
        }
    }
}

/// A scalar loss's value as a Double, for logs.
extension Variable {
    public var scalar: Double { Double(data.values.first ?? .nan) }
}
