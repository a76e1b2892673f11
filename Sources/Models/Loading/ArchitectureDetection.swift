import Checkpoints

/// Reads the architecture of a generator from its state_dict keys and shapes, so users never
/// pass `--netG`-style flags.
public enum ArchitectureDetection {
    /// Values a user may force where the keys cannot tell (UNet dropout) or to resolve a mismatch.
    public struct Overrides: Sendable, Equatable {
        public var family: GeneratorArchitecture.Family?
        public var ngf: Int?
        public var depth: Int?
        public var norm: GeneratorArchitecture.Norm?
        public var dropout: Bool?
        public var inputChannels: Int?
        public var outputChannels: Int?
        public var conditionChannels: Int?

        public init(family: GeneratorArchitecture.Family? = nil, ngf: Int? = nil, depth: Int? = nil,
                    norm: GeneratorArchitecture.Norm? = nil, dropout: Bool? = nil, inputChannels: Int? = nil,
                    outputChannels: Int? = nil, conditionChannels: Int? = nil) {
            self.family = family
            self.ngf = ngf
            self.depth = depth
            self.norm = norm
            self.dropout = dropout
            self.inputChannels = inputChannels
            self.outputChannels = outputChannels
            self.conditionChannels = conditionChannels
        }

        public var isEmpty: Bool { self == Overrides() }
    }

    /// The detected architecture and what could not be read from the keys.
    public struct Result: Sendable {
        public var architecture: GeneratorArchitecture
        /// Facts that were assumed rather than read, e.g. UNet dropout.
        public var assumptions: [String]
    }

    /// Detects the family and hyper-parameters; throws `unknownArchitecture` when the keys match
    /// none of the supported generators.
    public static func detect(_ sd: StateDict, overrides: Overrides = Overrides()) throws -> Result {
        // A discriminator would otherwise read as no generator at all (or, for StarGAN's, as a
        // broken generator): say what it is, before any override reinterprets it.
        if let d = DiscriminatorDetection.family(of: sd) {
            let what: String
            switch d {
            case .nLayers: what = "a pix2pix/CycleGAN NLayerDiscriminator (netD basic/n_layers)"
            case .pixel: what = "a pix2pix/CycleGAN PixelDiscriminator (netD pixel)"
            case .stargan: what = "a StarGAN Discriminator"
            }
            throw ModelError(.architectureMismatch,
                "this checkpoint is \(what), not a generator; converting images needs a generator checkpoint (e.g. latest_net_G.pth or 200000-G.ckpt)")
        }
        // CUT's PatchSampleF (latest_net_F.pth) sits beside its G in every CUT run folder.
        if sd["mlp_0.0.weight"]?.shape.count == 2, sd["model.1.weight"] == nil {
            throw ModelError(.architectureMismatch,
                "this checkpoint is CUT's PatchSampleF (netF, MLP heads for the contrastive loss), not a generator; converting images needs the generator, latest_net_G.pth")
        }
        let family = try overrides.family ?? detectFamily(sd)
        var result: Result
        switch family {
        case .resnet: result = try detectResnet(sd)
        case .unet: result = try detectUnet(sd)
        case .stargan: result = try detectStarGAN(sd)
        }
        var a = result.architecture
        if let v = overrides.ngf { a.ngf = v }
        if let v = overrides.depth { a.depth = v }
        if let v = overrides.norm { a.norm = v }
        if let v = overrides.dropout {
            a.dropout = v
            result.assumptions.removeAll { $0.hasPrefix("dropout") }
        }
        if let v = overrides.inputChannels { a.inputChannels = v }
        if let v = overrides.outputChannels { a.outputChannels = v }
        if let v = overrides.conditionChannels { a.conditionChannels = v }
        result.architecture = a
        return result
    }

    static func detectFamily(_ sd: StateDict) throws -> GeneratorArchitecture.Family {
        if sd["model.model.0.weight"] != nil { return .unet }
        // Blocks start at model.10, or at model.12 in CUT's anti-aliased layout.
        if sd["model.1.weight"]?.shape.count == 4,
           sd.keys.contains(where: { $0.hasPrefix("model.10.conv_block.") || $0.hasPrefix("model.12.conv_block.") }) {
            return .resnet
        }
        if sd["main.0.weight"]?.shape.count == 4 { return .stargan }
        let sample = sd.keys.prefix(4).joined(separator: ", ")
        if sd.keys.contains(where: { $0.hasPrefix("model.") }) && sd["model.1.weight"] != nil {
            // ResNet stem without blocks: n_blocks = 0 is legal in the reference.
            return .resnet
        }
        throw ModelError(.unknownArchitecture,
            "not a pix2pix/CycleGAN or StarGAN generator: expected keys like model.1.weight (ResNet), model.model.0.weight (UNet) or main.0.weight (StarGAN); found \(sd.count) keys starting \(sample)")
    }

    /// The shape of a convolution weight: the sizes detection reads must exist, whatever the
    /// file holds under the key (a scalar or a vector there would otherwise be indexed blindly).
    private static func convWeightShape(_ sd: StateDict, _ key: String) throws -> [Int] {
        guard let s = sd[key]?.shape else {
            throw ModelError(.unknownArchitecture, "expected key \(key) is missing")
        }
        guard s.count == 4, s.allSatisfy({ $0 > 0 }) else {
            let shown = "(" + s.map(String.init).joined(separator: ", ") + ")"
            throw ModelError(.unknownArchitecture, "\(key) has shape \(shown); a convolution weight has 4 non-zero dimensions")
        }
        return s
    }

    /// Number of distinct residual blocks `<container>.<i>.<block>.…` in the keys.
    private static func countBlocks(_ sd: StateDict, container: String, block: String) -> Int {
        Set(sd.keys.compactMap { key -> Int? in
            let parts = key.split(separator: ".")
            guard parts.count > 3, parts[0] == container, parts[2] == block else { return nil }
            return Int(parts[1])
        }).count
    }

    static func detectResnet(_ sd: StateDict) throws -> Result {
        let stem = try convWeightShape(sd, "model.1.weight")
        let blocks = countBlocks(sd, container: "model", block: "conv_block")
        // CUT's anti-aliased layouts carry the blur filters as buffers: model.7/model.11 down
        // (each down stage one index longer, so the blocks start at 12), and one before each
        // up-sampling conv (each up stage one index longer too).
        let antialias = sd["model.7.filt"] != nil
        let first = antialias ? 12 : 10
        let antialiasUp = sd["model.\(first + blocks).filt"] != nil
        let last = try convWeightShape(sd, "model.\(first + blocks + (antialiasUp ? 9 : 7)).weight")
        let norm: GeneratorArchitecture.Norm =
            sd["model.2.weight"] != nil ? .batch : (sd["model.1.bias"] != nil ? .instance : .none)
        // With dropout the second conv of each block moves from conv_block.5 to conv_block.6.
        let dropout = blocks > 0 && sd["model.\(first).conv_block.6.weight"]?.shape.count == 4
        return Result(architecture: .cut(blocks: blocks, ngf: stem[0], norm: norm, dropout: dropout,
                                         antialias: antialias, antialiasUp: antialiasUp,
                                         inputChannels: stem[1], outputChannels: last[0]),
                      assumptions: [])
    }

    static func detectUnet(_ sd: StateDict) throws -> Result {
        let first = try convWeightShape(sd, "model.model.0.weight")
        let last = try convWeightShape(sd, "model.model.3.weight")
        // Level k ≥ 2 lives under model.model.1.model(.3.model)^(k-2).
        var prefix = "model.model.1.model."
        var downs = 1
        while sd["\(prefix)1.weight"] != nil {
            downs += 1
            prefix += "3.model."
        }
        let norm: GeneratorArchitecture.Norm =
            sd["model.model.1.model.2.weight"] != nil ? .batch : (sd["model.model.0.bias"] != nil ? .instance : .none)
        // Dropout changes no UNet key; the reference builds pix2pix's UNets with it.
        return Result(architecture: .unet(downs: downs, ngf: first[0], norm: norm, dropout: true,
                                          inputChannels: first[1], outputChannels: last[1]),
                      assumptions: ["dropout layers assumed present (UNet checkpoints do not record them; matters only with --dropout)"])
    }

    static func detectStarGAN(_ sd: StateDict) throws -> Result {
        let first = try convWeightShape(sd, "main.0.weight")
        let repeats = countBlocks(sd, container: "main", block: "main")
        let last = try convWeightShape(sd, "main.\(15 + repeats).weight")
        let imageChannels = last[0]
        guard first[1] > imageChannels else {
            throw ModelError(.unknownArchitecture, "StarGAN first conv takes \(first[1]) channels, no room for label planes beside \(imageChannels) image channels")
        }
        return Result(architecture: .stargan(conditions: first[1] - imageChannels, convDim: first[0], repeats: repeats,
                                             imageChannels: imageChannels),
                      assumptions: [])
    }
}
