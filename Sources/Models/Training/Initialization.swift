import Engine
import Foundation

/// The reference's `--init_type`: how `init_weights` draws convolution weights.
public enum InitType: String, Codable, Sendable, CaseIterable {
    /// `N(0, gain)`.
    case normal
    /// `xavier_normal_(gain)`: std = gain·√(2 / (fan_in + fan_out)).
    case xavier
    /// `kaiming_normal_(a=0, mode='fan_in')`: std = √2 / √fan_in; the gain is ignored, as in the reference.
    case kaiming
    /// `orthogonal_(gain)`: the weight flattened to size(0) rows is gain × a matrix with
    /// orthonormal rows (or columns, when there are fewer columns).
    case orthogonal
}

extension Module {
    /// The reference's `init_weights(net, init_type, init_gain)` on every module below this one:
    /// each Conv2d/ConvTranspose2d/Linear weight drawn by `type`, its bias zeroed; BatchNorm weights
    /// `N(1, gain)`, biases zeroed. InstanceNorm's affine parameters and every running buffer keep
    /// their values (the reference matches the class name 'BatchNorm2d' only).
    ///
    /// Values are written into the existing tensors, so handles held elsewhere (an optimizer's)
    /// see them. Draws come from `random` in a fixed order (modules in state_dict order, each
    /// tensor front to back), so the same seed gives the same bits.
    public func initializeWeights(_ type: InitType = .normal, gain: Float = 0.02, random: RandomSource) throws {
        guard gain.isFinite, gain >= 0 else {
            throw ModelError(.invalidInput, "init gain must be a finite number ≥ 0, got \(gain)")
        }
        var gaussian = GaussianSource(random)
        let g = Double(gain)
        for module in modules(of: Module.self) {
            if let (weight, bias) = convolutionTensors(module) {
                initializeConvolution(weight, type, gain: g, &gaussian)
                if let bias { fill(bias) { 0 } }
            } else if let norm = module as? Norm2d, norm.kind == .batch, let w = module.tensor("weight") {
                fill(w) { 1 + g * gaussian.next() }
                if let b = module.tensor("bias") { fill(b) { 0 } }
            }
        }
    }

    /// `initializeWeights(_:gain:random:)` with a fresh generator seeded by `seed`.
    public func initializeWeights(_ type: InitType = .normal, gain: Float = 0.02, seed: UInt64) throws {
        try initializeWeights(type, gain: gain, random: RandomSource(seed: seed))
    }
}

extension Module {
    /// PyTorch's own initialisation of freshly built layers, which StarGAN keeps (it never calls
    /// an init function): every Conv2d / ConvTranspose2d weight and bias uniform in ±1/√fan_in
    /// (`kaiming_uniform_(a=√5)` and the bias rule of `reset_parameters`), norms' affine weights 1
    /// and biases 0. Running buffers are left as they are.
    public func initializeAsPyTorch(random: RandomSource) {
        for module in modules(of: Module.self) {
            if module is Norm2d {
                if let w = module.tensor("weight") { fill(w) { 1 } }
                if let b = module.tensor("bias") { fill(b) { 0 } }
                continue
            }
            guard let (weight, bias) = convolutionTensors(module), weight.count > 0 else { continue }
            let bound = 1 / Double(max(1, fans(weight.shape).fanIn)).squareRoot()
            fill(weight) { (2 * Double(random.nextUnit()) - 1) * bound }
            if let bias { fill(bias) { (2 * Double(random.nextUnit()) - 1) * bound } }
        }
    }
}

extension Discriminator {
    /// The reference's `init_weights` (default `normal`, gain 0.02) on the whole network.
    public func initializeWeights(_ type: InitType = .normal, gain: Float = 0.02, seed: UInt64) throws {
        try root.initializeWeights(type, gain: gain, seed: seed)
    }
}

/// PyTorch's fans for a weight of any rank ≥ 2: size(1)·receptive field in, size(0)·receptive
/// field out. For a transposed conv's (in, out, kH, kW) weight that makes fan_in out·kH·kW,
/// exactly as PyTorch computes it.
private func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
    guard shape.count >= 2 else { return (shape.first ?? 1, shape.first ?? 1) }
    let receptive = shape.dropFirst(2).reduce(1, *)
    return (shape[1] * receptive, shape[0] * receptive)
}

private func initializeConvolution(_ weight: Tensor, _ type: InitType, gain: Double, _ gaussian: inout GaussianSource) {
    guard weight.count > 0 else { return }  // PyTorch: a no-op on zero-element tensors
    let (fanIn, fanOut) = fans(weight.shape)
    let std: Double
    switch type {
    case .normal: std = gain
    case .xavier: std = gain * (2 / Double(fanIn + fanOut)).squareRoot()
    case .kaiming: std = 2.0.squareRoot() / Double(fanIn).squareRoot()
    case .orthogonal:
        let rows = weight.shape.first ?? 1
        orthogonal(weight, rows: rows, cols: weight.count / rows, gain: gain, &gaussian)
        return
    }
    fill(weight) { std * gaussian.next() }
}

/// The weight and bias of a Conv2d, ConvTranspose2d or Linear (the reference's `init_func`
/// matches class names containing 'Conv' or 'Linear'); nil for any other module.
private func convolutionTensors(_ module: Module) -> (weight: Tensor, bias: Tensor?)? {
    if let conv = module as? Conv2d { return (conv.weight, conv.bias) }
    if let conv = module as? ConvTranspose2d { return (conv.weight, conv.bias) }
    if let layer = module as? Linear { return (layer.tensor("weight")!, layer.tensor("bias")) }
    return nil
}

private func fill(_ t: Tensor, _ value: () -> Double) {
    t.withUnsafeMutableBufferPointer { p in
        for i in p.indices { p[i] = Float(value()) }
    }
}

/// Standard normal draws from a `RandomSource` (Box–Muller in Double, both halves used).
struct GaussianSource {
    let random: RandomSource
    private var spare: Double?

    init(_ random: RandomSource) { self.random = random }

    mutating func next() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        // 53-bit uniforms; u1 in (0, 1] keeps the logarithm finite.
        let u1 = Double((random.next() >> 11) + 1) * 0x1p-53
        let u2 = Double(random.next() >> 11) * 0x1p-53
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spare = r * Foundation.sin(2 * .pi * u2)
        return r * Foundation.cos(2 * .pi * u2)
    }
}
