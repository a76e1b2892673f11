import Engine

/// pix2pix/CycleGAN's `NLayerDiscriminator`: the 70×70 PatchGAN for `n_layers` 3. k4 p1 convs
/// with LeakyReLU(0.2); all but the last two have stride 2, and the widths double up to 8·ndf.
enum NLayerDiscriminator {
    static func make(_ a: DiscriminatorArchitecture) throws -> Module {
        // The first and last convs always have a bias; the others only when the norm is
        // InstanceNorm (non-affine), as in the reference's bias rule.
        let useBias = a.norm == .instance
        let ndf = a.ndf
        func width(_ n: Int) -> Int { ndf * min(1 << min(n, 3), 8) }
        // CUT's anti-aliased form: stride-1 convs, each followed (after its activation) by a blur
        // with stride 2.
        let stride = a.antialias ? 1 : 2
        var layers: [Module] = try [Conv2d(a.inputChannels, ndf, kernel: 4, stride: stride, padding: 1, bias: true),
                                    ActivationLayer(.leakyReLU(slope: 0.2))]
        if a.antialias { layers.append(try BlurDownsample(channels: ndf)) }
        var previous = ndf
        for n in Swift.stride(from: 1, to: a.layers, by: 1) {
            layers += try [Conv2d(previous, width(n), kernel: 4, stride: stride, padding: 1, bias: useBias),
                           ResnetGenerator.norm(a.norm, width(n)), ActivationLayer(.leakyReLU(slope: 0.2))]
            if a.antialias { layers.append(try BlurDownsample(channels: width(n))) }
            previous = width(n)
        }
        let last = width(max(a.layers, 0))
        layers += try [Conv2d(previous, last, kernel: 4, stride: 1, padding: 1, bias: useBias),
                       ResnetGenerator.norm(a.norm, last), ActivationLayer(.leakyReLU(slope: 0.2)),
                       Conv2d(last, 1, kernel: 4, stride: 1, padding: 1, bias: true)]
        return Root("model", Sequential(layers))
    }
}

/// pix2pix/CycleGAN's `PixelDiscriminator` (`--netD pixel`): a 1×1 PatchGAN judging each pixel.
/// The attribute is `net`, and its last conv follows the bias rule (no bias with BatchNorm).
enum PixelDiscriminator {
    static func make(_ a: DiscriminatorArchitecture) throws -> Module {
        let useBias = a.norm == .instance
        let ndf = a.ndf
        return try Root("net", Sequential([
            Conv2d(a.inputChannels, ndf, kernel: 1, bias: true), ActivationLayer(.leakyReLU(slope: 0.2)),
            Conv2d(ndf, 2 * ndf, kernel: 1, bias: useBias), ResnetGenerator.norm(a.norm, 2 * ndf),
            ActivationLayer(.leakyReLU(slope: 0.2)),
            Conv2d(2 * ndf, 1, kernel: 1, bias: useBias),
        ]))
    }
}

/// StarGAN's `Discriminator`: `main` (k4 s2 p1 convs with bias and LeakyReLU(0.01), widths
/// doubling from conv_dim), then two bias-free heads on its output: `conv1` (3×3 p1) the real/fake
/// patch map, `conv2` (a kernel the size of `main`'s output at image_size) the domain logits.
final class StarGANDiscriminator: Module {
    init(_ a: DiscriminatorArchitecture) throws {
        super.init()
        var dim = a.ndf
        var layers: [Module] = try [Conv2d(a.inputChannels, dim, kernel: 4, stride: 2, padding: 1, bias: true),
                                    ActivationLayer(.leakyReLU(slope: 0.01))]
        for _ in stride(from: 1, to: a.repeatNum, by: 1) {
            layers += try [Conv2d(dim, 2 * dim, kernel: 4, stride: 2, padding: 1, bias: true),
                           ActivationLayer(.leakyReLU(slope: 0.01))]
            dim *= 2
        }
        children = try [("main", Sequential(layers)),
                        ("conv1", Conv2d(dim, 1, kernel: 3, padding: 1, bias: false)),
                        ("conv2", Conv2d(dim, a.cDim, kernel: a.classKernel, bias: false))]
    }

    /// The source (real/fake) head alone, so the PatchGAN-style `forward` works for every
    /// family and on any size (the class head needs image_size inputs).
    override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        try children[1].module.forward(children[0].module.forward(x, pass), pass)
    }

    /// Both heads: the (N, 1, H/2^r, W/2^r) source map and the (N, c_dim) class logits. The
    /// shared trunk runs once and, in training, receives both heads' gradients.
    func heads(_ x: Variable, _ pass: ForwardPass) throws -> (source: Variable, classes: Variable) {
        let h = try children[0].module.forward(x, pass)
        let source = try children[1].module.forward(h, pass)
        let classes = try children[2].module.forward(h, pass)
        // PyTorch's `out_cls.view(N, c_dim)` only works when the kernel covers the whole map.
        guard classes.shape.count == 4, classes.shape[2] == 1, classes.shape[3] == 1 else {
            throw ModelError(.invalidInput, "StarGAN's class head needs the map of an image_size input; it gave \(classes.shape)")
        }
        return (source, try reshape(classes, to: [classes.shape[0], classes.shape[1]]))
    }
}
