/// Turns pixels upright according to an EXIF orientation, the same way as Pillow's
/// `ImageOps.exif_transpose` (2 mirror, 3 rotate 180°, 4 flip, 5 transpose,
/// 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise).
enum Orientation {
    /// The samples (8-bit, or already 16-bit) widened to `UInt16` and transformed, with the new
    /// width and height (swapped for 5...8). Widening happens in the same pass to avoid another copy.
    static func apply<Sample: FixedWidthInteger & UnsignedInteger>(
        _ orientation: Int, to samples: [Sample], width: Int, height: Int, channels: Int
    ) -> (samples: [UInt16], width: Int, height: Int) {
        let swaps = orientation >= 5 && orientation <= 8
        let outWidth = swaps ? height : width
        let outHeight = swaps ? width : height
        // Source pixel index = start + x * stepX + y * stepY for output pixel (x, y).
        let last = width - 1, bottom = (height - 1) * width
        let (start, stepX, stepY): (Int, Int, Int) = switch orientation {
        case 2: (last, -1, width)
        case 3: (bottom + last, -1, -width)
        case 4: (bottom, 1, -width)
        case 5: (0, width, 1)
        case 6: (bottom, -width, 1)
        case 7: (bottom + last, -width, -1)
        case 8: (last, width, -1)
        default: (0, 1, width)
        }
        let out = [UInt16](unsafeUninitializedCapacity: samples.count) { buffer, initialized in
            samples.withUnsafeBufferPointer { src in
                var to = 0
                for y in 0..<outHeight {
                    var from = (start + y * stepY) * channels
                    for _ in 0..<outWidth {
                        for c in 0..<channels { buffer[to + c] = UInt16(truncatingIfNeeded: src[from + c]) }
                        to += channels
                        from += stepX * channels
                    }
                }
            }
            initialized = samples.count
        }
        return (out, outWidth, outHeight)
    }
}
