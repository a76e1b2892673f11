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

extension PlanarImage {
    /// A decoded image's interleaved samples as planes (colour planes, then alpha).
    public init(_ image: DecodedImage) {
        let n = image.colorChannels + (image.hasAlpha ? 1 : 0)
        let count = image.width * image.height
        var planes = [[Float]](repeating: [Float](repeating: 0, count: count), count: n)
        image.samples.withUnsafeBufferPointer { s in
            for c in 0..<n {
                planes[c].withUnsafeMutableBufferPointer { p in
                    for i in 0..<count { p[i] = Float(s[i * n + c]) }
                }
            }
        }
        self.init(width: image.width, height: image.height, planes: planes, maxValue: image.bitDepth == 16 ? 65535 : 255)
    }

    /// The image with `want` planes, as PIL's `convert` makes them: grey repeated to RGB, RGB
    /// to grey with ITU-R 601 luma, extra planes (alpha) dropped. On 8-bit data the luma is PIL's
    /// own fixed point (`(R·19595 + G·38470 + B·7471 + 2¹⁵) >> 16`), which rounding
    /// `(299R + 587G + 114B) / 1000` misses by one level on 9,040 of the 16.7 M colours.
    public func adaptingChannels(to want: Int) -> PlanarImage {
        let have = channels
        let out: [[Float]]
        if have == want {
            out = planes
        } else if have == 1 {
            out = Array(repeating: planes[0], count: want)
        } else if want == 1, have >= 3 {
            let (r, g, b) = (planes[0], planes[1], planes[2])
            if maxValue == 255 {
                out = [(0..<r.count).map { i in
                    Float((Int(r[i]) * 19595 + Int(g[i]) * 38470 + Int(b[i]) * 7471 + 0x8000) >> 16)
                }]
            } else {
                out = [(0..<r.count).map { i in (r[i] * 299 + g[i] * 587 + b[i] * 114) / 1000 }]
            }
        } else {
            // Other counts (e.g. a 2-channel model) take the first channels, repeating the last.
            out = (0..<want).map { planes[min($0, have - 1)] }
        }
        return PlanarImage(width: width, height: height, planes: out, maxValue: maxValue)
    }
}

extension PlanarImage {
    /// torchvision's `CenterCrop(size)` on an image at least that large: the corner at
    /// int(round((side − size) / 2)), Python's round half to even.
    public func centreCropped(width w: Int, height h: Int) -> PlanarImage {
        let top = Int((Double(height - h) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(width - w) / 2).rounded(.toNearestOrEven))
        return cropped(x: left, y: top, width: w, height: h)
    }

    /// torchvision's `Resize(size)` with an int: the shorter side to `size` (bilinear, as PIL),
    /// the longer one in proportion, truncated.
    public func shorterSideResized(to size: Int) -> PlanarImage {
        let (w, h) = Self.shorterSide(width: width, height: height, to: size)
        return (w, h) == (width, height) ? self : Resampler.resize(self, width: w, height: h, filter: .bilinear)
    }

    /// Whether an image of `width`×`height` stays within `limits`: sizes that options and
    /// files set (a load size, a long thin photo) are checked before any plane is allocated.
    public static func fits(width: Int, height: Int, limits: DecodeLimits = DecodeLimits()) -> Bool {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        return width <= limits.maxSide && height <= limits.maxSide && !overflow && pixels <= limits.maxPixels
    }

    /// The size `Resize(size)` gives a `width`×`height` image.
    public static func shorterSide(width: Int, height: Int, to size: Int) -> (width: Int, height: Int) {
        let short = max(1, min(width, height))
        return width <= height ? (size, size * height / short) : (size * width / short, size)
    }
}

extension PlanarImage {
    /// `RandomHorizontalFlip` when it flips.
    public func flippedHorizontally() -> PlanarImage {
        mapPlanes(width: width, height: height) { plane in
            var flipped = plane
            for r in 0..<height {
                for c in 0..<width { flipped[r * width + c] = plane[r * width + width - 1 - c] }
            }
            return flipped
        }
    }
}
