import Foundation

/// Convolutions as plain loops with double-precision accumulation: slow, obviously correct, and
/// the yardstick the oneDNN path is tested against.
public final class ReferenceBackend: ConvolutionBackend, @unchecked Sendable {
    public let name = "reference"

    public init() {}

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) throws -> Tensor {
        let outShape = try conv2dOutputShape(x, weight: weight, bias: bias, geometry: g)
        return try correlate(x, weight, bias, g, outShape, transposed: false)
    }

    /// The adjoint of conv2d: each input pixel scatters its kernel-weighted value into the output.
    public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry) throws -> Tensor {
        let outShape = try convTranspose2dOutputShape(x, weight: weight, bias: bias, geometry: g)
        return try correlate(x, weight, bias, g, outShape, transposed: true)
    }

    /// Σ over the taps of input × weight into each output, plus the bias, in Double.
    private func correlate(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ g: ConvGeometry, _ outShape: [Int],
                           transposed: Bool) throws -> Tensor {
        var acc = [Double](repeating: 0, count: outShape.reduce(1, *))
        let xp = x.pointer, wp = weight.pointer
        Self.forEachTap(input: x.shape, output: outShape, weight: weight.shape, g, transposed: transposed) { xi, yi, wi in
            acc[yi] += Double(xp[xi]) * Double(wp[wi])
        }
        let (cout, plane) = (outShape[1], outShape[2] * outShape[3])
        let bp = bias?.pointer
        return try Tensor(shape: outShape, values: acc.indices.map { Float(acc[$0] + Double(bp?[($0 / plane) % cout] ?? 0)) })
    }
}
