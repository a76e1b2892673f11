/// The adversarial loss of a GAN: how a discriminator's (critic's) output on real and generated
/// images becomes a loss. The reference's `GANLoss` modes, the original minimax game, WGAN,
/// hinge, and the f-GAN family (Nowozin et al. 2016); `docs/objectives.md` says what each
/// optimises.
public enum GANObjective: String, Codable, Sendable, CaseIterable {
    /// The original GAN with the non-saturating generator loss used in practice: BCE with logits
    /// against 1 (real) / 0 (fake); G asks for 1.
    case vanilla
    /// The original GAN's saturating minimax form: D as `vanilla`, G minimises mean(log(1 − D(G(z)))).
    case minimax
    /// Least squares (LSGAN): MSE against 1 / 0. The reference's CycleGAN default.
    case lsgan
    /// Wasserstein critic terms (−mean for real, +mean for fake; G −mean), trained with weight
    /// clipping and RMSprop as the WGAN paper does.
    case wgan
    /// The same critic terms with WGAN-GP's gradient penalty on interpolates (`GradientPenalty`).
    case wgangp
    /// Hinge (SAGAN, BigGAN): D minimises mean(max(0, 1 − D(real))) + mean(max(0, 1 + D(fake)));
    /// G minimises −mean(D(fake)).
    case hinge
    /// f-GAN, Kullback–Leibler: g_f(v) = v, f*(t) = exp(t − 1).
    case kl
    /// f-GAN, reverse KL: g_f(v) = −exp(−v), f*(t) = −1 − log(−t).
    case reverseKL = "reverse-kl"
    /// f-GAN, Pearson χ²: g_f(v) = v, f*(t) = t²/4 + t.
    case pearson
    /// f-GAN, squared Hellinger: g_f(v) = 1 − exp(−v), f*(t) = t / (1 − t).
    case squaredHellinger = "squared-hellinger"
    /// f-GAN, Jensen–Shannon: g_f(v) = log 2 − log(1 + exp(−v)), f*(t) = −log(2 − exp(t)).
    case jensenShannon = "jensen-shannon"

    /// Whether the critic's weights are clipped after each of its steps (WGAN).
    public var clipsWeights: Bool { self == .wgan }
    /// Whether the critic's loss gets WGAN-GP's gradient penalty.
    public var hasGradientPenalty: Bool { self == .wgangp }
}
