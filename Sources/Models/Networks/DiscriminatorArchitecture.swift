/// Everything needed to rebuild a discriminator: what `--netD`, `--n_layers_D`, `--ndf`,
/// `--norm` and the input channels said (pix2pix/CycleGAN), or StarGAN's `--image_size`,
/// `--d_conv_dim`, `--c_dim` and `--d_repeat_num`.
public struct DiscriminatorArchitecture: Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Family: String, Codable, Sendable, CaseIterable {
        /// `NLayerDiscriminator` (`--netD basic` is 3 layers, `--netD n_layers` any number).
        case nLayers
        /// `PixelDiscriminator` (`--netD pixel`, a 1×1 PatchGAN).
        case pixel
        /// StarGAN's `Discriminator`: a PatchGAN source head plus a domain-classification head.
        case stargan
    }

    public typealias Norm = GeneratorArchitecture.Norm

    public var family: Family
    /// Channels of the image the discriminator judges (pix2pix: input_nc + output_nc).
    public var inputChannels: Int
    /// Width of the first layer: `ndf` (StarGAN: `d_conv_dim`).
    public var ndf: Int
    /// NLayerDiscriminator's `n_layers` (3 for `basic`); 0 for the other families.
    public var layers: Int
    /// `none` for StarGAN, which has no normalisation.
    public var norm: Norm
    /// StarGAN only (0 otherwise): the training image side, which fixes the class head's kernel.
    public var imageSize: Int
    /// StarGAN only (0 otherwise): number of domain labels the class head predicts.
    public var cDim: Int
    /// StarGAN only (0 otherwise): number of stride-2 convolutions in `main`.
    public var repeatNum: Int
    /// CUT's NLayerDiscriminator without `--no_antialias`: each stride-2 conv becomes a stride-1
    /// conv, (norm,) LeakyReLU and a blur with stride 2 (`BlurDownsample`).
    public var antialias: Bool = false

    public init(family: Family, inputChannels: Int, ndf: Int, layers: Int = 0, norm: Norm,
                imageSize: Int = 0, cDim: Int = 0, repeatNum: Int = 0) {
        self.family = family
        self.inputChannels = inputChannels
        self.ndf = ndf
        self.layers = layers
        self.norm = norm
        self.imageSize = imageSize
        self.cDim = cDim
        self.repeatNum = repeatNum
    }

    /// `--netD basic` (n_layers 3) or `--netD n_layers --n_layers_D L`. pix2pix's D sees
    /// `cat(A, B)`, so its input has 6 channels; CycleGAN's has 3.
    public static func nLayers(_ layers: Int = 3, ndf: Int = 64, norm: Norm = .batch, inputChannels: Int = 3,
                               antialias: Bool = false) -> Self {
        var a = Self(family: .nLayers, inputChannels: inputChannels, ndf: ndf, layers: layers, norm: norm)
        a.antialias = antialias
        return a
    }

    /// `--netD pixel`.
    public static func pixel(ndf: Int = 64, norm: Norm = .batch, inputChannels: Int = 3) -> Self {
        Self(family: .pixel, inputChannels: inputChannels, ndf: ndf, norm: norm)
    }

    /// StarGAN's `Discriminator(image_size, conv_dim, c_dim, repeat_num)`; it always sees RGB.
    public static func stargan(imageSize: Int = 128, convDim: Int = 64, cDim: Int = 5, repeatNum: Int = 6,
                               inputChannels: Int = 3) -> Self {
        Self(family: .stargan, inputChannels: inputChannels, ndf: convDim, norm: .none,
             imageSize: imageSize, cDim: cDim, repeatNum: repeatNum)
    }

    /// The reference's `--netD` name (`basic`, `n_layers`, `pixel`) or `stargan`.
    public var name: String {
        switch family {
        case .nLayers: return layers == 3 ? "basic" : "n_layers"
        case .pixel: return "pixel"
        case .stargan: return "stargan"
        }
    }

    /// The class name in the reference code.
    public var className: String {
        switch family {
        case .nLayers: return "NLayerDiscriminator"
        case .pixel: return "PixelDiscriminator"
        case .stargan: return "StarGAN Discriminator"
        }
    }

    /// Kernel side of StarGAN's class head: `int(image_size / 2^repeat_num)`.
    public var classKernel: Int {
        guard family == .stargan, (0..<62).contains(repeatNum) else { return 0 }
        return imageSize / (1 << repeatNum)
    }

    /// Output (height, width) of the PatchGAN map (StarGAN: the source head) for an input of
    /// `height`×`width`, as PyTorch computes it; nil when the input is too small to run.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int)? {
        // A k4 s2 p1 conv gives floor(s/2) (needs s ≥ 2); k4 s1 p1 gives s - 1; 1×1 and 3×3 p1
        // keep the size. The first conv always has stride 2, even with n_layers (repeat_num) 0.
        func chain(_ side: Int) -> Int? {
            var s = side
            switch family {
            case .pixel: break
            case .nLayers where antialias:
                // k4 s1 p1 gives s − 1, the blur ⌈s/2⌉.
                for _ in 0..<max(1, layers) {
                    guard s >= 2 else { return nil }
                    s = s / 2
                }
                s -= 2
            case .nLayers, .stargan:
                for _ in 0..<max(1, family == .nLayers ? layers : repeatNum) {
                    guard s >= 2 else { return nil }
                    s /= 2
                }
                if family == .nLayers { s -= 2 }
            }
            return s >= 1 ? s : nil
        }
        guard let h = chain(height), let w = chain(width) else { return nil }
        return (h, w)
    }

    public var description: String {
        switch family {
        case .nLayers, .pixel:
            let depth = family == .nLayers ? " n_layers=\(layers)" : ""
            return "\(className) (\(name))\(depth) ndf=\(ndf) norm=\(norm.rawValue), \(inputChannels) input channels"
                + (antialias ? ", anti-aliased (CUT)" : "")
        case .stargan:
            return "\(className) image_size=\(imageSize) conv_dim=\(ndf) c_dim=\(cDim) repeat_num=\(repeatNum), \(inputChannels) input channels"
        }
    }
}
