import Engine
import Foundation
import Models

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

    /// The loss of `prediction` judged as `real` or fake. With `forGenerator` (and `real`), the
    /// generator's term, which differs from the discriminator's for minimax, hinge and the f-GAN
    /// divergences; the reference's modes use the same function for both players (G asks for
    /// "real").
    public func loss(_ prediction: Variable, real: Bool, forGenerator: Bool = false) throws -> Variable {
        switch self {
        case .vanilla: return try bceWithLogits(prediction, .constant(real ? 1 : 0))
        case .minimax:
            guard forGenerator && real else { return try bceWithLogits(prediction, .constant(real ? 1 : 0)) }
            // log(1 − σ(v)) = −softplus(v).
            return try pointwiseMean(prediction, name: "minimax_g") { v in (-Self.softplus(Double(v)), -Float(Self.sigmoid(Double(v)))) }
        case .lsgan: return try mse(prediction, .constant(real ? 1 : 0))
        case .wgan, .wgangp: return try scale(mean(prediction), by: real ? -1 : 1)
        case .hinge:
            if forGenerator { return try scale(mean(prediction), by: real ? -1 : 1) }
            return try meanHinge(prediction, sign: real ? -1 : 1)
        case .kl, .reverseKL, .pearson, .squaredHellinger, .jensenShannon:
            // D maximises E_P[g_f(V)] − E_Q[f*(g_f(V))]: minimises −g_f on real, f*∘g_f on fake.
            // G maximises E_Q[g_f(V)] (the paper's non-saturating alternative).
            if real {
                return try pointwiseMean(prediction, name: "\(rawValue)_real") { v in
                    let (t, dt) = fGANActivation(Double(v))
                    return (-t, Float(-dt))
                }
            }
            return try pointwiseMean(prediction, name: "\(rawValue)_fake") { v in
                let (c, dc) = conjugateOfActivation(Double(v))
                return (c, Float(dc))
            }
        }
    }

    /// g_f(v) and its derivative: the output activation that maps the critic's raw output into
    /// the domain of f*.
    func fGANActivation(_ v: Double) -> (Double, Double) {
        switch self {
        case .kl, .pearson: return (v, 1)
        case .reverseKL: return (-exp(-v), exp(-v))
        case .squaredHellinger: return (1 - exp(-v), exp(-v))
        case .jensenShannon: return (log(2) - Self.softplus(-v), Self.sigmoid(-v))
        default: return (v, 1)
        }
    }

    /// f*(g_f(v)) and its derivative in v, simplified so that no intermediate overflows first:
    /// KL exp(v − 1); reverse KL v − 1; Pearson v²/4 + v; squared Hellinger exp(v) − 1;
    /// Jensen–Shannon softplus(v) − log 2.
    func conjugateOfActivation(_ v: Double) -> (Double, Double) {
        switch self {
        case .kl: return (exp(v - 1), exp(v - 1))
        case .reverseKL: return (v - 1, 1)
        case .pearson: return (v * v / 4 + v, v / 2 + 1)
        case .squaredHellinger: return (exp(v) - 1, exp(v))
        case .jensenShannon: return (Self.softplus(v) - log(2), Self.sigmoid(v))
        default: return (v, 1)
        }
    }

    static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }
    static func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
}

/// WGAN's Lipschitz constraint: every parameter of `module` clamped to [−c, c] in place (after
/// each critic step, as the WGAN paper's `clamp_(-c, c)`).
public func clipWeights(_ module: Module, to c: Float) {
    for (_, v) in module.parameters() {
        v.data.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = min(max(p[i], -c), c) }
        }
    }
}

/// A scalar loss's value as a Double, for logs.
extension Variable {
    public var scalar: Double { Double(data.values.first ?? .nan) }
}
