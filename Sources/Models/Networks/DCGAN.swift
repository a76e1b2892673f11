import Engine

/// DCGAN's networks as the PyTorch example (pytorch/examples `dcgan/main.py`) defines them, with
/// the same `main.N` state_dict keys: a generator from z (N×nz×1×1) to 64×64 images through four
/// stride-2 transposed convolutions with batch norm and ReLU, and a discriminator mirroring it
/// with LeakyReLU(0.2). The discriminator here ends at the logit: the example's final Sigmoid
/// has no parameters, and every objective (`GANObjective`) takes logits.
public enum DCGAN {
    /// The generator: `nz` → `ngf`·8 at 4×4 → … → `channels` at 64×64, tanh. `norm: false`
    /// drops the batch norms (WGAN-GP critics and their generators are often trained without).
    public static func generator(nz: Int, ngf: Int, channels: Int = 3, batchNorm: Bool = true) throws -> Module {
        guard nz > 0, ngf > 0, channels > 0, ngf <= 1 << 16, nz <= 1 << 16 else {
            throw ModelError(.invalidInput, "DCGAN generator: nz \(nz), ngf \(ngf) and \(channels) channels must be positive and at most 65536")
        }
        var layers: [Module] = []
        var width = ngf * 8
        layers += try block(ConvTranspose2d(nz, width, kernel: 4, stride: 1, padding: 0, bias: false), width, batchNorm, .relu)
        for _ in 0..<3 {
            layers += try block(ConvTranspose2d(width, width / 2, kernel: 4, stride: 2, padding: 1, bias: false), width / 2, batchNorm, .relu)
            width /= 2
        }
        layers += [try ConvTranspose2d(width, channels, kernel: 4, stride: 2, padding: 1, bias: false), ActivationLayer(.tanh)]
        return Root("main", Sequential(layers))
    }

    /// The discriminator: 64×64 `channels` → one logit per image (N×1×1×1).
    public static func discriminator(ndf: Int, channels: Int = 3, batchNorm: Bool = true) throws -> Module {
        guard ndf > 0, channels > 0, ndf <= 1 << 16 else {
            throw ModelError(.invalidInput, "DCGAN discriminator: ndf \(ndf) and \(channels) channels must be positive and at most 65536")
        }
        var layers: [Module] = [try Conv2d(channels, ndf, kernel: 4, stride: 2, padding: 1, bias: false), ActivationLayer(.leakyReLU(slope: 0.2))]
        var width = ndf
        for _ in 0..<3 {
            layers += try block(Conv2d(width, width * 2, kernel: 4, stride: 2, padding: 1, bias: false), width * 2, batchNorm, .leakyReLU(slope: 0.2))
            width *= 2
        }
        layers.append(try Conv2d(width, 1, kernel: 4, stride: 1, padding: 0, bias: false))
        return Root("main", Sequential(layers))
    }

    /// The one image size these networks produce and judge.
    public static let imageSize = 64

    private static func block(_ layer: Module, _ channels: Int, _ batchNorm: Bool, _ activation: Activation) throws -> [Module] {
        // Without the norm its index still holds nothing: keys then follow the layer list as built.
        [layer] + (batchNorm ? [try Norm2d(.batch, channels: channels)] : []) + [ActivationLayer(activation)]
    }

    /// z ~ N(0, 1), `count`×`nz`×1×1, from `random` (Box–Muller, as the initialisers draw).
    public static func noise(count: Int, nz: Int, random: RandomSource) throws -> Tensor {
        var gaussian = GaussianSource(random)
        return try Tensor(shape: [count, nz, 1, 1], values: (0..<(count * nz)).map { _ in Float(gaussian.next()) })
    }
}
