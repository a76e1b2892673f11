/// Everything needed to rebuild a generator: what `--netG`, `--ngf`, `--norm`, `--no_dropout`,
/// `--input_nc`/`--output_nc` (or StarGAN's `--c_dim`, `--g_conv_dim`, `--g_repeat_num`) said.
public struct GeneratorArchitecture: Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Family: String, Codable, Sendable, CaseIterable {
        case resnet, unet, stargan
    }

    public enum Norm: String, Codable, Sendable, CaseIterable {
        case instance, batch, none
    }

    public var family: Family
    /// Image channels in and out (StarGAN: image channels only; labels are `conditionChannels`).
    public var inputChannels: Int
    public var outputChannels: Int
    /// Width of the first layer: `ngf` (StarGAN: `g_conv_dim`).
    public var ngf: Int
    /// ResNet: `n_blocks`; UNet: `num_downs`; StarGAN: `repeat_num`.
    public var depth: Int
    public var norm: Norm
    /// Whether the network has Dropout layers. For ResNet this moves `conv_block.5` to
    /// `conv_block.6`; for UNet it changes no key, so it cannot be read from a checkpoint.
    public var dropout: Bool
    /// StarGAN's `c_dim` (number of label planes); 0 for other families.
    public var conditionChannels: Int
    /// CUT's ResNet (taesungp/contrastive-unpaired-translation) without `--no_antialias`: each
    /// down-sampling is a stride-1 convolution, norm, ReLU, then a blur with stride 2
    /// (`BlurDownsample`) instead of a stride-2 convolution.
    public var antialias: Bool = false
    /// CUT's ResNet without `--no_antialias_up`: each up-sampling is a blur ×2 (`BlurUpsample`)
    /// then a stride-1 3×3 convolution instead of a transposed convolution.
    public var antialiasUp: Bool = false

    public init(family: Family, inputChannels: Int = 3, outputChannels: Int = 3, ngf: Int = 64,
                depth: Int, norm: Norm, dropout: Bool, conditionChannels: Int = 0) {
        self.family = family
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.ngf = ngf
        self.depth = depth
        self.norm = norm
        self.dropout = dropout
        self.conditionChannels = conditionChannels
    }

    public static func resnet(blocks: Int = 9, ngf: Int = 64, norm: Norm = .instance, dropout: Bool = false,
                              inputChannels: Int = 3, outputChannels: Int = 3) -> Self {
        Self(family: .resnet, inputChannels: inputChannels, outputChannels: outputChannels, ngf: ngf,
             depth: blocks, norm: norm, dropout: dropout)
    }

    /// CUT's generator: the ResNet with anti-aliased down- and up-sampling (CUT's defaults:
    /// resnet_9blocks, instance norm, no dropout; `--no_antialias` / `--no_antialias_up` turn
    /// them off).
    public static func cut(blocks: Int = 9, ngf: Int = 64, norm: Norm = .instance, dropout: Bool = false,
                           antialias: Bool = true, antialiasUp: Bool = true,
                           inputChannels: Int = 3, outputChannels: Int = 3) -> Self {
        var a = resnet(blocks: blocks, ngf: ngf, norm: norm, dropout: dropout, inputChannels: inputChannels,
                       outputChannels: outputChannels)
        (a.antialias, a.antialiasUp) = (antialias, antialiasUp)
        return a
    }

    public static func unet(downs: Int = 8, ngf: Int = 64, norm: Norm = .batch, dropout: Bool = true,
                            inputChannels: Int = 3, outputChannels: Int = 3) -> Self {
        Self(family: .unet, inputChannels: inputChannels, outputChannels: outputChannels, ngf: ngf,
             depth: downs, norm: norm, dropout: dropout)
    }

    public static func stargan(conditions: Int = 5, convDim: Int = 64, repeats: Int = 6, imageChannels: Int = 3) -> Self {
        Self(family: .stargan, inputChannels: imageChannels, outputChannels: imageChannels, ngf: convDim,
             depth: repeats, norm: .instance, dropout: false, conditionChannels: conditions)
    }

    /// Whether this is the reference's colorization generator: L of CIELab in, ab out (no other
    /// model of the reference maps one channel to two). Its output is combined with the input's
    /// own L (`Tensor.labToRGB`).
    public var predictsAB: Bool { family != .stargan && inputChannels == 1 && outputChannels == 2 }

    /// The reference's `--netG` name where there is one (`resnet_9blocks`, `unet_256`), else a
    /// descriptive one (`resnet_4blocks`, `unet_32`, `stargan`).
    public var name: String {
        switch family {
        case .resnet: return "resnet_\(depth)blocks"
        case .unet: return "unet_\(1 << depth)"
        case .stargan: return "stargan"
        }
    }

    /// Input sides must be a multiple of this for the output to have the input's size.
    public var sizeMultiple: Int {
        switch family {
        case .resnet, .stargan: return 4
        case .unet: return 1 << depth
        }
    }

    /// Whether an input of this size runs at all (UNet's skip connections need exact halving).
    public var requiresExactMultiple: Bool { family == .unet }

    /// Output (height, width) for an input of `height`×`width`, as PyTorch computes it.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        switch family {
        case .resnet: return (4 * ((height + 3) / 4), 4 * ((width + 3) / 4))
        case .unet: return (height, width)
        case .stargan: return (4 * (height / 4), 4 * (width / 4))
        }
    }

    public var description: String {
        var parts = ["\(name) ngf=\(ngf) norm=\(norm.rawValue)", "\(inputChannels)→\(outputChannels) channels"]
        if family != .stargan { parts.append(dropout ? "dropout" : "no dropout") }
        switch (antialias, antialiasUp) {
        case (true, true): parts.append("anti-aliased down and up (CUT)")
        case (true, false): parts.append("anti-aliased down (CUT --no_antialias_up)")
        case (false, true): parts.append("anti-aliased up (CUT --no_antialias)")
        case (false, false): break
        }
        if family == .stargan { parts.append("c_dim=\(conditionChannels) repeat_num=\(depth)") }
        return parts.joined(separator: ", ")
    }
}
