/// Where convolutions run. Everything else in the engine is cheap elementwise work done in
/// Swift; convolutions are the 95% of the FLOPs that a backend provides.
///
/// Two implementations: `DNNLBackend` (oneDNN, the production path) and `ReferenceBackend`
/// (plain loops that tests trust), each with the backward passes training needs.
public protocol ConvolutionBackend: AnyObject, Sendable {
    /// Short human-readable name, e.g. "onednn-winograd".
    var name: String { get }

    /// `y = conv2d(x, weight) + bias` with zero padding (`x`: N,Cin,H,W; `weight`: Cout,Cin,kH,kW).
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor

    /// PyTorch's ConvTranspose2d (`weight`: Cin,Cout,kH,kW).
    func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor

    /// Gradient with respect to the input of `conv2d` (or of `convTranspose2d` when `transposed`)
    /// given the gradient of its output; `inputShape` is the forward input's shape.
    func convolutionBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], geometry: ConvGeometry,
                                 transposed: Bool) throws -> Tensor

    /// Gradients with respect to the weight (PyTorch layout, `weightShape`) and, when `bias`, the
    /// bias of `conv2d` / `convTranspose2d`, given the forward input `x` and the output gradient.
    func convolutionBackwardWeights(_ x: Tensor, gradOutput: Tensor, weightShape: [Int], bias: Bool,
                                    geometry: ConvGeometry, transposed: Bool) throws -> (weight: Tensor, bias: Tensor?)
}

/// Strides and zero padding of a 2-D convolution, plus the output padding of a transposed one.
public struct ConvGeometry: Hashable, Sendable {
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var outputPaddingH: Int
    public var outputPaddingW: Int

    public init(stride: Int = 1, padding: Int = 0, outputPadding: Int = 0) {
        self.init(strideH: stride, strideW: stride, padTop: padding, padLeft: padding,
                  padBottom: padding, padRight: padding, outputPaddingH: outputPadding,
                  outputPaddingW: outputPadding)
    }

    public init(strideH: Int, strideW: Int, padTop: Int, padLeft: Int, padBottom: Int,
                padRight: Int, outputPaddingH: Int = 0, outputPaddingW: Int = 0) {
        self.strideH = strideH
        self.strideW = strideW
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
        self.outputPaddingH = outputPaddingH
        self.outputPaddingW = outputPaddingW
    }

    /// Output (H, W) of a convolution over an `h`×`w` input with a `kh`×`kw` kernel.
    public func convOutput(h: Int, w: Int, kh: Int, kw: Int) -> (h: Int, w: Int) {
        ((h + padTop + padBottom - kh) / strideH + 1, (w + padLeft + padRight - kw) / strideW + 1)
    }

    /// Output (H, W) of a transposed convolution, as PyTorch computes it.
    public func transposedOutput(h: Int, w: Int, kh: Int, kw: Int) -> (h: Int, w: Int) {
        ((h - 1) * strideH - padTop - padBottom + kh + outputPaddingH,
         (w - 1) * strideW - padLeft - padRight + kw + outputPaddingW)
    }
}
