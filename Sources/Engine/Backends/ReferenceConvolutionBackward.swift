/// The backward passes of the reference convolutions, as plain loops accumulating in Double.
///
/// Both convolutions pair each input pixel (iy, ix) of channel i with output pixels through
/// kernel taps: `oy·s − p + ky = iy` for conv2d, `iy·s − p + ky = oy` for the transposed one.
/// `forEachTap` enumerates those pairs once, and each gradient is the sum of products over them:
/// the data gradient sums gradOutput × weight, the weight gradient input × gradOutput.
extension ReferenceBackend {
    public func convolutionBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], geometry g: ConvGeometry,
                                        transposed: Bool) throws -> Tensor {
        var acc = [Double](repeating: 0, count: inputShape.reduce(1, *))
        let gp = gradOutput.pointer, wp = weight.pointer
        Self.forEachTap(input: inputShape, output: gradOutput.shape, weight: weight.shape, g, transposed: transposed) {
            xi, yi, wi in acc[xi] += Double(gp[yi]) * Double(wp[wi])
        }
        return try Tensor(shape: inputShape, values: acc.map { Float($0) })
    }

    public func convolutionBackwardWeights(_ x: Tensor, gradOutput: Tensor, weightShape: [Int], bias: Bool,
                                           geometry g: ConvGeometry, transposed: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        var acc = [Double](repeating: 0, count: weightShape.reduce(1, *))
        let xp = x.pointer, gp = gradOutput.pointer
        Self.forEachTap(input: x.shape, output: gradOutput.shape, weight: weightShape, g, transposed: transposed) {
            xi, yi, wi in acc[wi] += Double(xp[xi]) * Double(gp[yi])
        }
        let gradWeight = try Tensor(shape: weightShape, values: acc.map { Float($0) })
        guard bias else { return (gradWeight, nil) }
        let (n, c, oh, ow) = gradOutput.nchw
        var sums = [Double](repeating: 0, count: c)
        for b in 0..<n { for o in 0..<c { for i in 0..<(oh * ow) { sums[o] += Double(gp[(b * c + o) * oh * ow + i]) } } }
        return (gradWeight, try Tensor(shape: [c], values: sums.map { Float($0) }))
    }

    /// Calls `body(inputIndex, outputIndex, weightIndex)` for every (input pixel, output pixel,
    /// weight) product of the forward (de)convolution. Weights are (Cout, Cin, kH, kW) for conv2d
    /// and (Cin, Cout, kH, kW) for the transposed convolution, as PyTorch stores them.
    static func forEachTap(input: [Int], output: [Int], weight: [Int], _ g: ConvGeometry, transposed: Bool,
                           _ body: (Int, Int, Int) -> Void) {
        let (n, cin, h, w) = (input[0], input[1], input[2], input[3])
        let (cout, oh, ow) = (output[1], output[2], output[3])
        let (kh, kw) = (weight[2], weight[3])
        // The strided side steps by the stride; the other side is at stride·s − pad + k:
        // the output for conv2d, the input for the transposed convolution.
        let (sh, sw, th, tw) = transposed ? (h, w, oh, ow) : (oh, ow, h, w)
        for b in 0..<n {
            for i in 0..<cin {
                for o in 0..<cout {
                    let wBase = transposed ? (i * cout + o) * kh * kw : (o * cin + i) * kh * kw
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            for sy in 0..<sh {
                                let ty = sy * g.strideH - g.padTop + ky
                                guard ty >= 0, ty < th else { continue }
                                for sx in 0..<sw {
                                    let tx = sx * g.strideW - g.padLeft + kx
                                    guard tx >= 0, tx < tw else { continue }
                                    let (iy, ix, oy, ox) = transposed ? (sy, sx, ty, tx) : (ty, tx, sy, sx)
                                    body(((b * cin + i) * h + iy) * w + ix, ((b * cout + o) * oh + oy) * ow + ox, wBase + ky * kw + kx)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
