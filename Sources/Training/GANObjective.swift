import Engine
import Foundation
import Models
import Runs

extension GANObjective {
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
