/// Checks on a discriminator architecture read from a file, made before a single weight is
/// allocated (see `GeneratorArchitecture.validate` for why every size needs a bound).
extension DiscriminatorArchitecture {
    /// Far above any published discriminator (n_layers 3–5, repeat_num 6–7, image_size 256);
    /// past these no image could even run (every layer halves it).
    static let maxLayers = 32
    static let maxRepeatNum = 16

    /// Throws `unknownArchitecture` for sizes no network can have.
    public func validate() throws(ModelError) {
        func check(_ ok: Bool, _ what: String) throws(ModelError) {
            if !ok { throw ModelError(.unknownArchitecture, "\(className): \(what)") }
        }
        let c = GeneratorArchitecture.maxChannels
        try check((1...c).contains(inputChannels), "input channels \(inputChannels) outside 1…\(c)")
        try check((1...c).contains(ndf), "ndf \(ndf) outside 1…\(c)")
        switch family {
        case .nLayers:
            try check((0...Self.maxLayers).contains(layers), "n_layers \(layers) outside 0…\(Self.maxLayers)")
        case .pixel:
            break
        case .stargan:
            try check(norm == .none, "StarGAN's discriminator has no normalisation, not \(norm.rawValue)")
            try check((1...Self.maxRepeatNum).contains(repeatNum), "repeat_num \(repeatNum) outside 1…\(Self.maxRepeatNum)")
            try check(ndf << (repeatNum - 1) <= c, "conv_dim \(ndf) doubled \(repeatNum - 1) times exceeds \(c) channels")
            try check((1...c).contains(cDim), "c_dim \(cDim) outside 1…\(c)")
            try check((1...c).contains(classKernel), "image_size \(imageSize) gives a \(classKernel)-wide class kernel after \(repeatNum) halvings (1…\(c) allowed)")
        }
    }

    /// Elements in the network's convolution weights, which dominate its size: a lower bound on
    /// the values a checkpoint for it must hold. Call `validate()` first; the arithmetic is
    /// checked all the same.
    public func convolutionWeightCount() throws(ModelError) -> Int {
        var total = 0
        func conv(_ a: Int, _ b: Int, _ k: Int) throws(ModelError) {
            var n = 1
            for f in [a, b, k, k] {
                let (p, overflow) = n.multipliedReportingOverflow(by: f)
                if overflow { throw ModelError(.unknownArchitecture, "\(className): network size overflows") }
                n = p
            }
            let (s, overflow) = total.addingReportingOverflow(n)
            if overflow { throw ModelError(.unknownArchitecture, "\(className): network size overflows") }
            total = s
        }
        switch family {
        case .nLayers:
            func width(_ n: Int) -> Int { ndf * (1 << min(max(n, 0), 3)) }
            try conv(inputChannels, ndf, 4)
            for n in stride(from: 1, to: layers, by: 1) { try conv(width(n - 1), width(n), 4) }
            try conv(width(max(layers - 1, 0)), width(layers), 4)
            try conv(width(layers), 1, 4)
        case .pixel:
            try conv(inputChannels, ndf, 1); try conv(ndf, 2 * ndf, 1); try conv(2 * ndf, 1, 1)
        case .stargan:
            try conv(inputChannels, ndf, 4)
            for i in stride(from: 1, to: repeatNum, by: 1) { try conv(ndf << (i - 1), ndf << i, 4) }
            let top = ndf << max(repeatNum - 1, 0)
            try conv(top, 1, 3); try conv(top, cDim, classKernel)
        }
        return total
    }
}
