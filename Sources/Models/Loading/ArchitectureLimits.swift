/// Checks on an architecture read from a file, made before a single weight is allocated.
///
/// Every size here comes from a file or a flag, so a hostile checkpoint could otherwise ask for
/// a network of any size: a stem `[ngf, 0, 7, 7]` with a huge `ngf` passes every tensor check
/// (it has no elements) but overflows the products, and thousands of `conv_block` keys build
/// gigabytes of weights from a small file.
extension GeneratorArchitecture {
    /// Far above any published generator (ngf 64, 9 blocks, 8 downs); keeps every product below
    /// overflow.
    static let maxChannels = 1 << 16
    static let maxDepth = 4096
    static let maxUnetDepth = 16

    /// Throws `invalidArchitecture` for sizes no network can have.
    public func validate() throws(ModelError) {
        func check(_ ok: Bool, _ what: String) throws(ModelError) {
            if !ok { throw ModelError(.unknownArchitecture, "\(name): \(what)") }
        }
        let c = Self.maxChannels
        try check((1...c).contains(inputChannels), "input channels \(inputChannels) outside 1…\(c)")
        try check((1...c).contains(outputChannels), "output channels \(outputChannels) outside 1…\(c)")
        try check((1...c).contains(ngf), "ngf \(ngf) outside 1…\(c)")
        switch family {
        case .resnet:
            try check((0...Self.maxDepth).contains(depth), "\(depth) residual blocks (0…\(Self.maxDepth) allowed)")
        case .unet:
            try check((1...Self.maxUnetDepth).contains(depth), "\(depth) downsamplings (1…\(Self.maxUnetDepth) allowed)")
        case .stargan:
            try check((0...Self.maxDepth).contains(depth), "\(depth) residual blocks (0…\(Self.maxDepth) allowed)")
            try check((1...c).contains(conditionChannels), "\(conditionChannels) label channels (1…\(c) allowed)")
        }
    }

    /// Elements in the network's convolution and transposed-convolution weights, which dominate
    /// its size: a lower bound on the values a checkpoint for it must hold. Call `validate()`
    /// first; the arithmetic is checked all the same.
    public func convolutionWeightCount() throws(ModelError) -> Int {
        var total = 0
        func conv(_ a: Int, _ b: Int, _ k: Int, times: Int = 1) throws(ModelError) {
            var n = 1
            for f in [a, b, k, k, times] {
                let (p, overflow) = n.multipliedReportingOverflow(by: f)
                if overflow { throw ModelError(.unknownArchitecture, "\(name): network size overflows") }
                n = p
            }
            let (s, overflow) = total.addingReportingOverflow(n)
            if overflow { throw ModelError(.unknownArchitecture, "\(name): network size overflows") }
            total = s
        }
        let g = ngf
        switch family {
        case .resnet:
            try conv(inputChannels, g, 7)
            try conv(g, 2 * g, 3); try conv(2 * g, 4 * g, 3)
            try conv(4 * g, 4 * g, 3, times: 2 * depth)
            try conv(4 * g, 2 * g, 3); try conv(2 * g, g, 3)
            try conv(g, outputChannels, 7)
        case .unet:
            // Built from the innermost block out; fewer than 5 levels still build all 5.
            try conv(inputChannels, g, 4); try conv(2 * g, outputChannels, 4)
            try conv(g, 2 * g, 4); try conv(4 * g, g, 4)
            try conv(2 * g, 4 * g, 4); try conv(8 * g, 2 * g, 4)
            try conv(4 * g, 8 * g, 4); try conv(16 * g, 4 * g, 4)
            try conv(8 * g, 8 * g, 4, times: max(0, depth - 5))
            try conv(16 * g, 8 * g, 4, times: max(0, depth - 5))
            try conv(8 * g, 8 * g, 4, times: 2)
        case .stargan:
            try conv(inputChannels + conditionChannels, g, 7)
            try conv(g, 2 * g, 4); try conv(2 * g, 4 * g, 4)
            try conv(4 * g, 4 * g, 3, times: 2 * depth)
            try conv(4 * g, 2 * g, 4); try conv(2 * g, g, 4)
            try conv(g, outputChannels, 7)
        }
        return total
    }
}
