/// An image as separate float planes, the form every normalisation step works on.
///
/// Values keep the file's scale (0…255 for 8-bit, 0…65535 for 16-bit) until `Preprocessor`
/// maps them to the generator's [-1, 1], so resampling can round the way PIL does on 8-bit data.
public struct PlanarImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// One row-major plane per channel.
    public var planes: [[Float]]
    /// The value of full intensity: 255 or 65535.
    public var maxValue: Float

    public init(width: Int, height: Int, planes: [[Float]], maxValue: Float) {
        precondition(planes.allSatisfy { $0.count == width * height }, "plane size does not match \(width)×\(height)")
        self.width = width
        self.height = height
        self.planes = planes
        self.maxValue = maxValue
    }

    public var channels: Int { planes.count }

    /// Applies `transform` to every plane (resizes, pads, crops keep colour and alpha aligned).
    public func mapPlanes(width: Int, height: Int, _ transform: ([Float]) -> [Float]) -> PlanarImage {
        PlanarImage(width: width, height: height, planes: planes.map(transform), maxValue: maxValue)
    }

    /// A crop of `w`×`h` starting at (`x`, `y`).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> PlanarImage {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop outside the image")
        return mapPlanes(width: w, height: h) { plane in
            var out = [Float](repeating: 0, count: w * h)
            for r in 0..<h {
                for c in 0..<w { out[r * w + c] = plane[(y + r) * width + x + c] }
            }
            return out
        }
    }
}
