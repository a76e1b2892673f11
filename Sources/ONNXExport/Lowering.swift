import Engine
import Models

/// Writes a module tree into a `GraphBuilder`, layer by layer through `Module.layerKind`, computing what
/// `gantry convert` computes: each image's own normalisation statistics (batch norm included, as
/// the reference's test.py does), no dropout; or BatchNorm's running statistics when asked.
struct Lowering {
    var graph: GraphBuilder
    let runningStatistics: Bool

    /// The output of `module` (state_dict prefix `key`) on `input`.
    mutating func emit(_ module: Module, key: String, input: String) throws -> String {
        switch module.layerKind {
        case .sequence:
            var x = input
            for (name, child) in module.children { x = try emit(child, key: key + name + ".", input: x) }
            return x
        case .residual:
            let body = try emit(module.children[0].module, key: key + module.children[0].name + ".", input: input)
            return graph.node("Add", [input, body], name: "add")
        case .unetSkip(let outermost):
            let y = try emit(module.children[0].module, key: key + module.children[0].name + ".", input: input)
            return outermost ? y : graph.node("Concat", [input, y], [Attribute.int("axis", 1)], name: "skip")
        case .conv(let weight, let bias, let g):
            return try conv("Conv", input, weight: weight, bias: bias, key: key, geometry: g)
        case .convTranspose(let weight, let bias, let g):
            return try conv("ConvTranspose", input, weight: weight, bias: bias, key: key, geometry: g)
        case .pad(let amount, let mode):
            return pad(input, amount, mode)
        case .norm(let kind, let channels, let weight, let bias, let mean, let variance):
            return try norm(input, kind: kind, channels: channels, weight: weight, bias: bias, mean: mean, variance: variance, key: key)
        case .activation(let a):
            switch a {
            case .relu: return graph.node("Relu", [input], name: "relu")
            case .leakyReLU(let slope): return graph.node("LeakyRelu", [input], [Attribute.float("alpha", slope)], name: "leaky_relu")
            case .tanh: return graph.node("Tanh", [input], name: "tanh")
            }
        case .dropout, .identity:
            // Convert runs deterministically: dropout is the identity, as in PyTorch's eval().
            return input
        case .blurDownsample(let filter, let padding, let stride):
            let padded = pad(input, padding, .reflect)
            let w = try graph.weight(key + "filt", filter)
            let k = filter.shape[2]
            return graph.node("Conv", [padded, w], [
                Attribute.ints("kernel_shape", [k, k]), Attribute.ints("strides", [stride, stride]),
                Attribute.ints("pads", [0, 0, 0, 0]), Attribute.int("group", filter.shape[0]),
            ], name: "blur_down")
        case .blurUpsample(let filter, let edge, let stride, let padding):
            let padded = pad(input, edge, .replicate)
            let w = try graph.weight(key + "filt", filter)
            let k = filter.shape[2]
            return graph.node("ConvTranspose", [padded, w], [
                Attribute.ints("kernel_shape", [k, k]), Attribute.ints("strides", [stride, stride]),
                Attribute.ints("pads", [padding, padding, padding, padding]), Attribute.int("group", filter.shape[0]),
            ], name: "blur_up")
        case .linear:
            throw ExportError(.unsupportedLayer, "\(key.dropLast()) is a Linear layer (CUT's PatchSampleF): it is trained with a generator but is not one; export latest_net_G.pth")
        case .other(let type):
            throw ExportError(.unsupportedLayer, "\(key.isEmpty ? "the network" : String(key.dropLast())) is a \(type), which the ONNX exporter cannot write")
        }
    }

    private mutating func conv(_ op: String, _ input: String, weight: Tensor, bias: Tensor?, key: String,
                               geometry g: ConvGeometry) throws -> String {
        var inputs = [input, try graph.weight(key + "weight", weight)]
        if let bias { inputs.append(try graph.weight(key + "bias", bias)) }
        var attributes = [
            Attribute.ints("kernel_shape", [weight.shape[2], weight.shape[3]]),
            Attribute.ints("strides", [g.strideH, g.strideW]),
            // ONNX orders pads as all begins, then all ends.
            Attribute.ints("pads", [g.padTop, g.padLeft, g.padBottom, g.padRight]),
        ]
        if op == "ConvTranspose" && (g.outputPaddingH != 0 || g.outputPaddingW != 0) {
            attributes.append(Attribute.ints("output_padding", [g.outputPaddingH, g.outputPaddingW]))
        }
        return graph.node(op, inputs, attributes, name: op == "Conv" ? "conv" : "conv_transpose")
    }

    /// Pad-13: the amounts are an int64 input, [N, C, H, W begins, then ends].
    private mutating func pad(_ input: String, _ p: Int, _ mode: PaddingMode) -> String {
        let pads = graph.int64s([0, 0, Int64(p), Int64(p), 0, 0, Int64(p), Int64(p)], name: "pads_\(p)")
        let name: String
        switch mode {
        case .zero: name = "constant"
        case .reflect: name = "reflect"
        case .replicate: name = "edge"
        }
        return graph.node("Pad", [input, pads], [Attribute.string("mode", name)], name: "pad")
    }

    private mutating func norm(_ input: String, kind: Norm2d.Kind, channels: Int, weight: Tensor?, bias: Tensor?, mean: Tensor?,
                               variance: Tensor?, key: String) throws -> String {
        let epsilon = Attribute.float("epsilon", 1e-5)
        if case .batch = kind, runningStatistics, let mean, let variance, let weight, let bias {
            let inputs = [input, try graph.weight(key + "weight", weight), try graph.weight(key + "bias", bias),
                          try graph.weight(key + "running_mean", mean), try graph.weight(key + "running_var", variance)]
            return graph.node("BatchNormalization", inputs, [epsilon], name: "batch_norm")
        }
        // Per-image statistics: InstanceNormalization, whose scale and B are required (ones and
        // zeros for the reference's affine-free InstanceNorm). BatchNorm with the statistics of
        // each image is exactly this, for any batch size.
        let scale = try weight.map { try graph.weight(key + "weight", $0) } ?? graph.filled(1, count: channels)
        let shift = try bias.map { try graph.weight(key + "bias", $0) } ?? graph.filled(0, count: channels)
        return graph.node("InstanceNormalization", [input, scale, shift], [epsilon], name: "instance_norm")
    }
}
