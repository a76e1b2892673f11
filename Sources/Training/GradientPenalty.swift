import Engine
import Models
import Runs

/// WGAN-GP's gradient penalty (Gulrajani et al. 2017): `λ·mean_i (‖∇ₓ̂ D(x̂ᵢ)‖₂ − 1)²` at random
/// interpolates `x̂ = α·real + (1 − α)·fake`, one α ~ U[0, 1) per sample. Its gradient reaches
/// the critic's weights through the gradient computation itself (`SecondOrder`,
/// `gradients(of:wrt:)`), so the critic's forward is recorded twice over.
///
/// The reference defines this as `cal_gradient_penalty` (type `mixed`, constant 1, λ 10, 1e-16
/// added to the gradients before the norm) but its pix2pix and CycleGAN models never call it;
/// StarGAN's `gradient_penalty` is the same without the 1e-16.
public struct GradientPenalty: Sendable {
    public var lambda: Float
    public var epsilon: Float

    public init(lambda: Float = 10, epsilon: Float = 1e-16) {
        self.lambda = lambda
        self.epsilon = epsilon
    }

    /// The penalty of `critic` between `real` and `fake` (same shape; neither is differentiated)
    /// at the given per-sample `alpha`.
    public func callAsFunction(critic: (Variable) throws -> Variable, real: Tensor, fake: Tensor,
                               alpha: [Float]) throws -> Variable {
        guard real.shape == fake.shape, real.rank >= 1, alpha.count == real.shape[0] else {
            throw TrainingError(.shapeMismatch, "gradient penalty: real \(real.shape), fake \(fake.shape) and \(alpha.count) interpolation weights do not fit")
        }
        let per = real.count / max(1, real.shape[0])
        var mixed = [Float](repeating: 0, count: real.count)
        real.withUnsafeBufferPointer { r in
            fake.withUnsafeBufferPointer { f in
                for i in 0..<mixed.count {
                    let a = alpha[i / per]
                    mixed[i] = a * r[i] + (1 - a) * f[i]
                }
            }
        }
        let x = Variable(try Tensor(shape: real.shape, values: mixed), requiresGrad: true)
        let output = try SecondOrder.recording { try critic(x) }
        let gradient = try gradients(of: output, wrt: [x])[0]
        return try scale(gradientPenalty(gradient, center: 1, epsilon: epsilon), by: lambda)
    }

    /// One α per sample from `random`, as `torch.rand(batch, 1)`.
    /// With `shard` (a rank of a data-parallel job), the global batch's weights are drawn and
    /// this rank's rows kept, so each image gets the weight one process would draw for it.
    public static func drawAlpha(count: Int, random: RandomSource, shard: BatchShard? = nil) -> [Float] {
        guard let shard, shard.offset + count <= shard.total else { return (0..<count).map { _ in random.nextUnit() } }
        let all = (0..<shard.total).map { _ in random.nextUnit() }
        return Array(all[shard.offset..<(shard.offset + count)])
    }
}
