import Engine

/// pix2pix/CycleGAN's `ResnetGenerator`: c7s1-ngf, two stride-2 downsamplings, `n_blocks`
/// residual blocks, two transposed-conv upsamplings, c7s1-output, tanh. Reflection padding.
enum ResnetGenerator {
    static func make(_ a: GeneratorArchitecture) throws -> Module {
        // The reference gives convs a bias only when the norm is InstanceNorm (non-affine).
        let useBias = a.norm == .instance
        let ngf = a.ngf
        var layers: [Module] = try [
            Pad2d(3, mode: .reflect),
            Conv2d(a.inputChannels, ngf, kernel: 7, bias: useBias),
            norm(a.norm, ngf), ActivationLayer(.relu),
        ]
        for i in 0..<2 {
            let mult = 1 << i
            layers += try [Conv2d(ngf * mult, ngf * mult * 2, kernel: 3, stride: a.antialias ? 1 : 2, padding: 1, bias: useBias),
                       norm(a.norm, ngf * mult * 2), ActivationLayer(.relu)]
            if a.antialias { layers.append(try BlurDownsample(channels: ngf * mult * 2)) }
        }
        for _ in 0..<a.depth { layers.append(try ResnetBlock(ngf * 4, norm: a.norm, dropout: a.dropout, bias: useBias)) }
        for i in 0..<2 {
            let mult = 1 << (2 - i)
            if a.antialiasUp {
                layers += try [BlurUpsample(channels: ngf * mult),
                               Conv2d(ngf * mult, ngf * mult / 2, kernel: 3, padding: 1, bias: useBias)]
            } else {
                layers.append(try ConvTranspose2d(ngf * mult, ngf * mult / 2, kernel: 3, stride: 2, padding: 1,
                                                  outputPadding: 1, bias: useBias))
            }
            layers += try [norm(a.norm, ngf * mult / 2), ActivationLayer(.relu)]
        }
        layers += try [Pad2d(3, mode: .reflect), Conv2d(ngf, a.outputChannels, kernel: 7, bias: true),
                   ActivationLayer(.tanh)]
        return Root("model", Sequential(layers))
    }

    /// `norm_layer(C)`; with `--norm none` the reference inserts an `Identity`, which still
    /// occupies a Sequential index.
    static func norm(_ kind: GeneratorArchitecture.Norm, _ channels: Int) throws -> Module {
        switch kind {
        case .batch: return try Norm2d(.batch, channels: channels)
        case .instance: return try Norm2d(.instance(affine: false, tracksRunningStats: false), channels: channels)
        case .none: return Module()
        }
    }
}

/// `ResnetBlock`: x + conv_block(x), where conv_block is pad-conv-norm-relu-[dropout]-pad-conv-norm.
final class ResnetBlock: ResidualBlock {
    init(_ dim: Int, norm: GeneratorArchitecture.Norm, dropout: Bool, bias: Bool) throws {
        var layers: [Module] = try [Pad2d(1, mode: .reflect), Conv2d(dim, dim, kernel: 3, bias: bias),
                                ResnetGenerator.norm(norm, dim), ActivationLayer(.relu)]
        if dropout { layers.append(DropoutLayer(0.5)) }
        layers += try [Pad2d(1, mode: .reflect), Conv2d(dim, dim, kernel: 3, bias: bias), ResnetGenerator.norm(norm, dim)]
        super.init("conv_block", body: Sequential(layers))
    }
}
