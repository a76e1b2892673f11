import Foundation

/// Convolutions as plain loops with double-precision accumulation: slow, obviously correct, and
/// the yardstick the oneDNN path is tested against.
public final class ReferenceBackend: ConvolutionBackend, @unchecked Sendable {
    public let name = "reference"

    public init() {}

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) throws -> Tensor {
        let outShape = try conv2dOutputShape(x, weight: weight, bias: bias, geometry: g)
        let (n, cin, h, w) = x.nchw
        let (cout, oh, ow) = (outShape[1], outShape[2], outShape[3])
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        let y = try Tensor(uninitialized: outShape)
        let xp = x.pointer, wp = weight.pointer, yp = y.mutablePointer
        let bp = bias?.pointer
        for b in 0..<n {
            for o in 0..<cout {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc = Double(bp?[o] ?? 0)
                        for i in 0..<cin {
                            for ky in 0..<kh {
                                let iy = oy * g.strideH - g.padTop + ky
                                guard iy >= 0, iy < h else { continue }
                                for kx in 0..<kw {
                                    let ix = ox * g.strideW - g.padLeft + kx
                                    guard ix >= 0, ix < w else { continue }
                                    acc += Double(xp[((b * cin + i) * h + iy) * w + ix])
                                        * Double(wp[((o * cin + i) * kh + ky) * kw + kx])
                                }
                            }
                        }
                        yp[((b * cout + o) * oh + oy) * ow + ox] = Float(acc)
                    }
                }
            }
        }
        return y
    }

    public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) throws -> Tensor {
        let outShape = try convTranspose2dOutputShape(x, weight: weight, bias: bias, geometry: g)
        let (n, cin, h, w) = x.nchw
        let (cout, oh, ow) = (outShape[1], outShape[2], outShape[3])
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        var acc = [Double](repeating: 0, count: outShape.reduce(1, *))
        let xp = x.pointer, wp = weight.pointer
        // Each input pixel scatters its kernel-weighted value into the output: the adjoint of conv2d.
        for b in 0..<n {
            for i in 0..<cin {
                for iy in 0..<h {
                    for ix in 0..<w {
                        let v = Double(xp[((b * cin + i) * h + iy) * w + ix])
                        for o in 0..<cout {
                            for ky in 0..<kh {
                                let oy = iy * g.strideH - g.padTop + ky
                                guard oy >= 0, oy < oh else { continue }
                                for kx in 0..<kw {
                                    let ox = ix * g.strideW - g.padLeft + kx
                                    guard ox >= 0, ox < ow else { continue }
                                    acc[((b * cout + o) * oh + oy) * ow + ox] +=
                                        v * Double(wp[((i * cout + o) * kh + ky) * kw + kx])
                                }
                            }
                        }
                    }
                }
            }
        }
        let y = try Tensor(uninitialized: outShape)
        let bp = bias?.pointer
        for idx in 0..<acc.count {
            let o = (idx / (oh * ow)) % cout
            y.mutablePointer[idx] = Float(acc[idx] + Double(bp?[o] ?? 0))
        }
        return y
    }
}
