import Checkpoints

/// Reads the architecture of a discriminator from its state_dict keys and shapes.
public enum DiscriminatorDetection {
    /// Which discriminator the keys belong to, or nil when they look like none. Cheap and
    /// conservative: generator checkpoints never match (their first conv is `model.1`,
    /// `model.model.0` or a StarGAN `main.0` without heads).
    public static func family(of sd: StateDict) -> DiscriminatorArchitecture.Family? {
        func isConv(_ key: String) -> Bool { sd[key]?.shape.count == 4 }
        if isConv("main.0.weight"), isConv("conv1.weight"), isConv("conv2.weight") { return .stargan }
        if isConv("net.0.weight") { return .pixel }
        // ResNet generators start at model.1 (model.0 is padding), UNets at model.model.0.
        if isConv("model.0.weight"), sd["model.1.weight"] == nil, sd["model.model.0.weight"] == nil { return .nLayers }
        return nil
    }

    /// Detects the family and hyper-parameters; throws `unknownArchitecture` when the keys match
    /// no supported discriminator or a size the detection reads is missing.
    public static func detect(_ sd: StateDict) throws -> DiscriminatorArchitecture {
        guard let family = family(of: sd) else {
            let sample = sd.keys.prefix(4).joined(separator: ", ")
            throw ModelError(.unknownArchitecture,
                "not a pix2pix/CycleGAN or StarGAN discriminator: expected keys like model.0.weight (NLayerDiscriminator), net.0.weight (PixelDiscriminator) or main.0.weight with conv1/conv2 (StarGAN); found \(sd.count) keys starting \(sample)")
        }
        switch family {
        case .nLayers: return try detectNLayers(sd)
        case .pixel: return try detectPixel(sd)
        case .stargan: return try detectStarGAN(sd)
        }
    }

    /// The shape of a convolution weight, checked to have 4 non-zero dimensions.
    static func convWeightShape(_ sd: StateDict, _ key: String) throws -> [Int] {
        guard let s = sd[key]?.shape else {
            throw ModelError(.unknownArchitecture, "expected key \(key) is missing")
        }
        guard s.count == 4, s.allSatisfy({ $0 > 0 }) else {
            let shown = "(" + s.map(String.init).joined(separator: ", ") + ")"
            throw ModelError(.unknownArchitecture, "\(key) has shape \(shown); a convolution weight has 4 non-zero dimensions")
        }
        return s
    }

    /// Indices `i` of 4-D `<container>.<i>.weight` entries, ascending.
    static func convIndices(_ sd: StateDict, container: String) -> [Int] {
        sd.keys.compactMap { key -> Int? in
            let parts = key.split(separator: ".")
            guard parts.count == 3, parts[0] == container, parts[2] == "weight",
                  sd[key]?.shape.count == 4 else { return nil }
            return Int(parts[1])
        }.sorted()
    }

    /// Whether a norm module sits at `<prefix>` (BatchNorm: affine weight; an old InstanceNorm
    /// with tracked statistics has only running buffers and reads as instance via the bias).
    private static func norm(_ sd: StateDict, normAt prefix: String, biasOf conv: String) -> DiscriminatorArchitecture.Norm {
        if sd["\(prefix).weight"] != nil { return .batch }
        return sd["\(conv).bias"] != nil ? .instance : .none
    }

    static func detectNLayers(_ sd: StateDict) throws -> DiscriminatorArchitecture {
        let first = try convWeightShape(sd, "model.0.weight")
        // CUT's anti-aliased layout: blur buffers after each early activation, convs at 0, 3,
        // 7, …, 4L−1 and 4L+2.
        if sd["model.2.filt"] != nil {
            guard let lastIndex = convIndices(sd, container: "model").last, lastIndex >= 6, (lastIndex - 2) % 4 == 0 else {
                throw ModelError(.unknownArchitecture, "anti-aliased NLayerDiscriminator keys end at an unexpected layer; expected the last conv at model.(4·n_layers+2)")
            }
            var layers = (lastIndex - 2) / 4
            let second = try convWeightShape(sd, "model.3.weight")
            if layers == 1 && second[0] == first[0] { layers = 0 }
            return .nLayers(layers, ndf: first[0], norm: norm(sd, normAt: "model.4", biasOf: "model.3"), inputChannels: first[1],
                            antialias: true)
        }
        // Convs sit at 0, 2, 5, …, 3L-1 and 3L+2: the last index gives L.
        guard let lastIndex = convIndices(sd, container: "model").last, lastIndex >= 5, (lastIndex - 2) % 3 == 0 else {
            throw ModelError(.unknownArchitecture, "NLayerDiscriminator keys end at an unexpected layer; expected the last conv at model.(3·n_layers+2)")
        }
        var layers = (lastIndex - 2) / 3
        let second = try convWeightShape(sd, "model.2.weight")
        // n_layers 0 and 1 share one key layout; only the width of the stride-1 conv differs.
        if layers == 1 && second[0] == first[0] { layers = 0 }
        return .nLayers(layers, ndf: first[0], norm: norm(sd, normAt: "model.3", biasOf: "model.2"), inputChannels: first[1])
    }

    static func detectPixel(_ sd: StateDict) throws -> DiscriminatorArchitecture {
        let first = try convWeightShape(sd, "net.0.weight")
        return .pixel(ndf: first[0], norm: norm(sd, normAt: "net.3", biasOf: "net.2"), inputChannels: first[1])
    }

    static func detectStarGAN(_ sd: StateDict) throws -> DiscriminatorArchitecture {
        let first = try convWeightShape(sd, "main.0.weight")
        let classHead = try convWeightShape(sd, "conv2.weight")
        // main holds repeat_num convs at 0, 2, 4, …; conv2's kernel is image_size / 2^repeat_num.
        let repeatNum = convIndices(sd, container: "main").count
        guard (1...DiscriminatorArchitecture.maxRepeatNum).contains(repeatNum) else {
            throw ModelError(.unknownArchitecture, "StarGAN discriminator with \(repeatNum) convolutions in main (1…\(DiscriminatorArchitecture.maxRepeatNum) allowed)")
        }
        guard classHead[2] == classHead[3], classHead[2] <= GeneratorArchitecture.maxChannels else {
            throw ModelError(.unknownArchitecture, "conv2.weight has a \(classHead[2])×\(classHead[3]) kernel; StarGAN's class head is square")
        }
        return .stargan(imageSize: classHead[2] << repeatNum, convDim: first[0], cDim: classHead[0], repeatNum: repeatNum,
                        inputChannels: first[1])
    }
}
