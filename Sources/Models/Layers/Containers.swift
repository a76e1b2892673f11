import Engine

/// `nn.Sequential`: children named "0", "1", …, including layers without tensors, so indices
/// match PyTorch's.
public final class Sequential: Module {
    public init(_ layers: [Module]) {
        super.init()
        children = layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public var layers: [Module] { children.map(\.module) }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        var y = x
        var i = 0
        while i < children.count {
            let layer = children[i].module
            // In conversion a result overwrites the intermediate before it when nobody else
            // holds it: at 1024×768 each is 200 MB, and without this reuse conversion's peak RSS
            // is 8–9% higher (docs/performance.md). Training keeps every value its backward needs.
            let reusable = pass.recordsGradients ? nil : reusableStorage(y, sparing: x)
            if let norm = layer as? Norm2d {
                // A norm and the activation after it: one pass over memory where nothing is recorded.
                let act = (i + 1 < children.count ? children[i + 1].module as? ActivationLayer : nil)?.activation
                y = try norm.forward(y, pass, activation: act, into: reusable)
                i += act == nil ? 1 : 2
                continue
            }
            if let act = layer as? ActivationLayer {
                y = try act.activation(y, into: reusable)
                i += 1
                continue
            }
            y = try layer.forward(y, pass)
            i += 1
        }
        return y
    }
}

extension Sequential {
    /// The outputs of the layers at `taps` (ascending Sequential indices), running no further
    /// than the last: CUT's `netG(x, nce_layers, encode_only=True)`. A norm whose own output is
    /// tapped is not fused with the activation after it.
    func tapped(_ x: Variable, _ pass: ForwardPass, at taps: [Int]) throws -> [Variable] {
        guard let last = taps.last else { return [] }
        guard taps == taps.sorted(), Set(taps).count == taps.count, taps.allSatisfy({ (0..<children.count).contains($0) }) else {
            throw ModelError(.invalidInput, "feature layers \(taps) are not distinct ascending indices below \(children.count)")
        }
        var y = x, out: [Variable] = [], i = 0
        while i <= last {
            let layer = children[i].module
            if let norm = layer as? Norm2d, !taps.contains(i), i + 1 < children.count,
               let act = children[i + 1].module as? ActivationLayer {
                y = try norm.forward(y, pass, activation: act.activation)
                i += 1
            } else {
                y = try layer.forward(y, pass)
            }
            if taps.contains(i) { out.append(y) }
            i += 1
        }
        return out
    }
}

/// A network whose forward is its single child's: `self.model(x)` / `self.main(x)` in PyTorch,
/// so state_dict keys start with `name`.
final class Root: Module {
    init(_ name: String, _ child: Module) {
        super.init()
        children = [(name, child)]
    }

    override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        try children[0].module.forward(x, pass)
    }
}

/// `x + body(x)` with the body as the one child: pix2pix's `ResnetBlock` (`conv_block`) and
/// StarGAN's `ResidualBlock` (`main`) differ only in what the body holds.
class ResidualBlock: Module {
    init(_ name: String, body: Sequential) {
        super.init()
        children = [(name, body)]
    }

    override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        let body = try children[0].module.forward(x, pass)
        // The body's output is read by nothing after the sum: in conversion the sum overwrites it.
        let reusable = pass.recordsGradients ? nil : reusableStorage(body, sparing: x)
        return try add(x, body, into: reusable)
    }
}
