import Engine

/// StarGAN's `Generator(conv_dim, c_dim, repeat_num)`: the image concatenated with `c_dim`
/// constant label planes, zero padding inside the convs, no conv biases, and affine InstanceNorm
/// with (unused) running buffers.
enum StarGANGenerator {
    static func make(_ a: GeneratorArchitecture) throws -> Module {
        func norm(_ c: Int) throws -> Module { try Norm2d(.instance(affine: true, tracksRunningStats: true), channels: c) }
        var dim = a.ngf
        var layers: [Module] = try [Conv2d(a.inputChannels + a.conditionChannels, dim, kernel: 7, padding: 3, bias: false),
                                norm(dim), ActivationLayer(.relu)]
        for _ in 0..<2 {
            layers += try [Conv2d(dim, dim * 2, kernel: 4, stride: 2, padding: 1, bias: false), norm(dim * 2), ActivationLayer(.relu)]
            dim *= 2
        }
        for _ in 0..<a.depth { layers.append(try StarGANResidualBlock(dim, norm: norm)) }
        for _ in 0..<2 {
            layers += try [ConvTranspose2d(dim, dim / 2, kernel: 4, stride: 2, padding: 1, bias: false), norm(dim / 2),
                       ActivationLayer(.relu)]
            dim /= 2
        }
        layers += try [Conv2d(dim, a.outputChannels, kernel: 7, padding: 3, bias: false), ActivationLayer(.tanh)]
        return Root("main", Sequential(layers))
    }
}

/// StarGAN's `ResidualBlock`: x + main(x), main = conv-IN-ReLU-conv-IN.
final class StarGANResidualBlock: ResidualBlock {
    init(_ dim: Int, norm: (Int) throws -> Module) throws {
        super.init("main", body: try Sequential([Conv2d(dim, dim, kernel: 3, padding: 1, bias: false), norm(dim),
                                                  ActivationLayer(.relu), Conv2d(dim, dim, kernel: 3, padding: 1, bias: false),
                                                  norm(dim)]))
    }
}
