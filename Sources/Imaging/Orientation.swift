/// Turns pixels upright according to an EXIF orientation, the same way as Pillow's
/// `ImageOps.exif_transpose` (2 mirror, 3 rotate 180°, 4 flip, 5 transpose,
/// 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise).
enum Orientation {
    /// The transformed samples and the new width and height (swapped for 5...8).
    static func apply<T>(
        _ orientation: Int, to samples: [T], width: Int, height: Int, channels: Int
    ) -> (samples: [T], width: Int, height: Int) {
        guard (2...8).contains(orientation), !samples.isEmpty else { return (samples, width, height) }
        let swaps = orientation >= 5
        let outWidth = swaps ? height : width
        let outHeight = swaps ? width : height
        // For each output pixel, where it comes from in the stored image.
        let source: (Int, Int) -> (x: Int, y: Int)
        switch orientation {
        case 2: source = { x, y in (width - 1 - x, y) }
        case 3: source = { x, y in (width - 1 - x, height - 1 - y) }
        case 4: source = { x, y in (x, height - 1 - y) }
        case 5: source = { x, y in (y, x) }
        case 6: source = { x, y in (y, height - 1 - x) }
        case 7: source = { x, y in (width - 1 - y, height - 1 - x) }
        default: source = { x, y in (width - 1 - y, x) }
        }
        var out = samples  // same count and element type; every element is overwritten
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                let (sx, sy) = source(x, y)
                let from = (sy * width + sx) * channels
                let to = (y * outWidth + x) * channels
                for c in 0..<channels { out[to + c] = samples[from + c] }
            }
        }
        return (out, outWidth, outHeight)
    }
}
