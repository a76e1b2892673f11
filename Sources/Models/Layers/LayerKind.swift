import Engine

/// What a module computes, in terms another representation can be written in (the ONNX
/// exporter walks a generator with it): each layer once, with its parameters, so nothing outside
/// this module needs to know the layer classes.
public enum LayerKind {
    /// Children in order, each fed the previous one's output (`nn.Sequential`, or a network's
    /// single `model`/`main` child).
    case sequence
    /// `x + child(x)`: pix2pix's `ResnetBlock` and StarGAN's `ResidualBlock`.
    case residual
    /// U-Net's skip block: `child(x)`, concatenated after `x` on channels unless outermost.
    case unetSkip(outermost: Bool)
    /// `nn.Conv2d`: weight (out, in, k, k), zero padding from `geometry`.
    case conv(weight: Tensor, bias: Tensor?, geometry: ConvGeometry)
    /// `nn.ConvTranspose2d`: weight (in, out, k, k).
    case convTranspose(weight: Tensor, bias: Tensor?, geometry: ConvGeometry)
    /// Padding of `amount` on every side.
    case pad(amount: Int, mode: PaddingMode)
    /// BatchNorm/InstanceNorm (eps 1e-5) with whatever tensors the layer holds.
    case norm(kind: Norm2d.Kind, channels: Int, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVariance: Tensor?)
    case activation(Activation)
    /// `nn.Dropout`: the identity unless stochastic dropout is asked for.
    case dropout(probability: Float)
    /// CUT's `Downsample`: reflection pad `padding`, then `filter` (C×1×k×k) per channel with `stride`.
    case blurDownsample(filter: Tensor, padding: Int, stride: Int)
    /// CUT's `Upsample`: replicate pad `edge`, then `filter` per channel transposed with `stride`
    /// and `padding`.
    case blurUpsample(filter: Tensor, edge: Int, stride: Int, padding: Int)
    /// `nn.Linear` (CUT's PatchSampleF heads; not part of any generator).
    case linear
    /// A layer without tensors or children that passes its input on (`--norm none`'s Identity).
    case identity
    /// Anything else, by its type's name (a container whose own forward this enum cannot say).
    case other(String)
}

extension Module {
    /// What this module computes (see `LayerKind`).
    public var layerKind: LayerKind {
        switch self {
        case is Sequential, is Root: return .sequence
        case is ResidualBlock: return .residual
        case let u as UnetBlock: return .unetSkip(outermost: u.role == .outermost)
        case let c as Conv2d: return .conv(weight: c.weight, bias: c.bias, geometry: c.geometry)
        case let t as ConvTranspose2d: return .convTranspose(weight: t.weight, bias: t.bias, geometry: t.geometry)
        case let p as Pad2d: return .pad(amount: p.amount, mode: p.mode)
        case let n as Norm2d:
            return .norm(kind: n.kind, channels: n.channels, weight: n.tensor("weight"), bias: n.tensor("bias"),
                         runningMean: n.tensor("running_mean"), runningVariance: n.tensor("running_var"))
        case let a as ActivationLayer: return .activation(a.activation)
        case let d as DropoutLayer: return .dropout(probability: d.probability)
        case let b as BlurDownsample: return .blurDownsample(filter: b.filter, padding: BlurDownsample.padding, stride: BlurDownsample.stride)
        case let b as BlurUpsample:
            return .blurUpsample(filter: b.filter, edge: BlurUpsample.edge, stride: BlurUpsample.stride, padding: BlurUpsample.padding)
        case is Linear: return .linear
        default:
            let plain = type(of: self) == Module.self && tensors.isEmpty && children.isEmpty
            return plain ? .identity : .other(String(describing: type(of: self)))
        }
    }
}
