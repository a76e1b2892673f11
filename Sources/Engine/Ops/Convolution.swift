/// Checks the operands of a convolution and returns the output shape. Shared by every backend so
/// they all refuse the same inputs with the same message.
public func conv2dOutputShape(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) throws -> [Int] {
    guard x.rank == 4, weight.rank == 4 else {
        throw EngineError(.shapeMismatch, "conv2d expects NCHW input and OIHW weight, got \(x.shape) and \(weight.shape)")
    }
    let (n, c, h, w) = x.nchw
    guard weight.shape[1] == c else {
        throw EngineError(.shapeMismatch, "conv2d weight \(weight.shape) expects \(weight.shape[1]) input channels, input has \(c)")
    }
    if let bias, bias.shape != [weight.shape[0]] {
        throw EngineError(.shapeMismatch, "conv2d bias \(bias.shape) does not match \(weight.shape[0]) output channels")
    }
    let out = g.convOutput(h: h, w: w, kh: weight.shape[2], kw: weight.shape[3])
    guard out.h > 0, out.w > 0 else {
        throw EngineError(.shapeMismatch, "conv2d input \(h)×\(w) is too small for a \(weight.shape[2])×\(weight.shape[3]) kernel")
    }
    return [n, weight.shape[0], out.h, out.w]
}

/// Output shape of PyTorch's ConvTranspose2d (weight layout Cin, Cout, kH, kW).
public func convTranspose2dOutputShape(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) throws -> [Int] {
    guard x.rank == 4, weight.rank == 4 else {
        throw EngineError(.shapeMismatch, "conv_transpose2d expects NCHW input and IOHW weight, got \(x.shape) and \(weight.shape)")
    }
    let (n, c, h, w) = x.nchw
    guard weight.shape[0] == c else {
        throw EngineError(.shapeMismatch, "conv_transpose2d weight \(weight.shape) expects \(weight.shape[0]) input channels, input has \(c)")
    }
    if let bias, bias.shape != [weight.shape[1]] {
        throw EngineError(.shapeMismatch, "conv_transpose2d bias \(bias.shape) does not match \(weight.shape[1]) output channels")
    }
    guard g.outputPaddingH < g.strideH, g.outputPaddingW < g.strideW else {
        throw EngineError(.unsupported, "output padding must be smaller than the stride")
    }
    let out = g.transposedOutput(h: h, w: w, kh: weight.shape[2], kw: weight.shape[3])
    guard out.h > 0, out.w > 0 else {
        throw EngineError(.shapeMismatch, "conv_transpose2d output would be empty for a \(h)×\(w) input")
    }
    return [n, weight.shape[1], out.h, out.w]
}

/// Differentiable `conv2d`: the forward runs on `backend` like inference; backward asks the same
/// backend for the data gradient (when `x` requires one) and the weight and bias gradients (when
/// the weight does). Each is kept only if needed: a frozen discriminator keeps no inputs.
public func conv2d(_ x: Variable, weight: Variable, bias: Variable?, geometry: ConvGeometry,
                   backend: ConvolutionBackend) throws -> Variable {
    let y = try backend.conv2d(x.data, weight: weight.data, bias: bias?.data, geometry: geometry)
    let inputShape = x.shape
    return record("conv2d", y, [x, weight, bias]) {
        convolutionBackward(x, weight, bias, geometry, backend, transposed: false)
    } twin: {
        // Only the input gradient is carried: a penalty on it reaches the weights through it.
        { g in [try convolutionInputGradient(g, weight: weight, inputShape: inputShape, geometry: geometry, backend: backend), nil, nil] }
    }
}

/// A convolution's input gradient `convolutionBackwardData(g, W)` as a differentiable op of the
/// output gradient `g` and the weights (the twin of `conv2d`'s backward). It is bilinear:
/// ⟨G, Bᵀ(W) g⟩ = ⟨conv2d(G; W), g⟩, so its own gradients are a forward convolution of G (for g)
/// and the weight gradient of a convolution with input G and output gradient g (for W).
func convolutionInputGradient(_ g: Variable, weight: Variable, inputShape: [Int], geometry: ConvGeometry,
                              backend: ConvolutionBackend) throws -> Variable {
    let version = weight.data.storage.version
    let gx = try backend.convolutionBackwardData(g.data, weight: weight.data, inputShape: inputShape, geometry: geometry,
                                                 transposed: false)
    let savedGradient = weight.requiresGrad ? g.data : nil
    let savedWeight = g.requiresGrad ? weight.data : nil
    let weightShape = weight.shape
    return record("conv2d_input_gradient", gx, [g, weight]) {
        { outer in
            guard weight.data.storage.version == version else {
                throw EngineError(.unsupported, "a convolution weight was modified in place between forward and backward (an optimizer step before backward?)")
            }
            let dg = try savedWeight.map { try backend.conv2d(outer, weight: $0, bias: nil, geometry: geometry) }
            let dw = try savedGradient.map {
                try backend.convolutionBackwardWeights(outer, gradOutput: $0, weightShape: weightShape, bias: false,
                                                       geometry: geometry, transposed: false).weight
            }
            return [dg, dw]
        }
    }
}

/// Differentiable `convTranspose2d` (PyTorch's ConvTranspose2d; weight Cin, Cout, kH, kW).
public func convTranspose2d(_ x: Variable, weight: Variable, bias: Variable?, geometry: ConvGeometry,
                            backend: ConvolutionBackend) throws -> Variable {
    let y = try backend.convTranspose2d(x.data, weight: weight.data, bias: bias?.data, geometry: geometry)
    return record("conv_transpose2d", y, [x, weight, bias]) {
        convolutionBackward(x, weight, bias, geometry, backend, transposed: true)
    }
}

private func convolutionBackward(_ x: Variable, _ weight: Variable, _ bias: Variable?, _ geometry: ConvGeometry,
                                 _ backend: ConvolutionBackend, transposed: Bool) -> (Tensor) throws -> [Tensor?] {
    let wantsWeights = weight.requiresGrad || bias?.requiresGrad == true
    let savedInput = wantsWeights ? x.data : nil
    let savedWeight = x.requiresGrad ? weight.data : nil
    let inputShape = x.shape, weightShape = weight.shape, hasBias = bias != nil
    // The data gradient needs the weights as they were in the forward pass.
    let version = weight.data.storage.version
    return { g in
        var gx: Tensor?
        if let w = savedWeight {
            guard w.storage.version == version else {
                throw EngineError(.unsupported, "a convolution weight was modified in place between forward and backward (an optimizer step before backward?)")
            }
            gx = try backend.convolutionBackwardData(g, weight: w, inputShape: inputShape, geometry: geometry, transposed: transposed)
        }
        guard let input = savedInput else { return [gx, nil, nil] }
        let (gw, gb) = try backend.convolutionBackwardWeights(input, gradOutput: g, weightShape: weightShape, bias: hasBias,
                                                              geometry: geometry, transposed: transposed)
        return [gx, gw, gb]
    }
}
