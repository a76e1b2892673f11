import Imaging
/// How an image is sized for the generator. `native` is Gantry's default; the others reproduce
/// the reference's `--preprocess` choices at test time.
public enum PreprocessPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Keep the photo's size: reflect-pad up to what the network needs and crop the output back.
    case native
    /// Square resize to `size`×`size`, aspect ignored (the reference's test-time `resize_and_crop`
    /// with load_size = crop_size, i.e. every output 256×256 by default).
    case resize(size: Int)
    /// Width to `width`, height `max(width·h/w, minHeight)`, as the reference's `scale_width`.
    case scaleWidth(width: Int, minHeight: Int)
    /// Square resize to `load`, then the centred `crop`×`crop` region.
    case resizeAndCrop(load: Int, crop: Int)
    /// The reference's `--preprocess none`: each side resized to the nearest multiple of 4
    /// (Python's round-half-even), nothing else.
    case none
    /// StarGAN's test transform: `CenterCrop(crop)`, then `Resize(size)` — the shorter side to
    /// `size`, bilinear. An image smaller than the crop is not padded (torchvision pads it black).
    case centreCrop(crop: Int, size: Int)

    /// Names accepted on the command line and in pipeline files.
    public static let names = ["native", "resize", "scale-width", "resize-and-crop", "none", "centre-crop"]

    /// Builds a policy from its name and the reference's `load_size` / `crop_size`.
    public static func named(_ name: String, loadSize: Int = 256, cropSize: Int? = nil) -> PreprocessPolicy? {
        switch name {
        case "native": return .native
        case "resize": return .resize(size: loadSize)
        case "scale-width": return .scaleWidth(width: loadSize, minHeight: cropSize ?? loadSize)
        case "resize-and-crop": return .resizeAndCrop(load: loadSize, crop: cropSize ?? loadSize)
        case "none": return PreprocessPolicy.none
        case "centre-crop": return .centreCrop(crop: cropSize ?? loadSize, size: loadSize)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .native: return "native"
        case .resize(let s): return "resize \(s)×\(s)"
        case .scaleWidth(let w, let h): return "scale-width \(w) (min height \(h))"
        case .resizeAndCrop(let l, let c): return "resize \(l)×\(l), crop \(c)×\(c)"
        case .none: return "none (nearest multiple of 4)"
        case .centreCrop(let c, let s): return "centre crop \(c)×\(c), shorter side to \(s)"
        }
    }

    /// How an image of `width`×`height` is sized: an optional centre crop first (StarGAN), the
    /// resize (before network padding) with its filter, then an optional crop of the result.
    struct Geometry {
        var preCrop: (w: Int, h: Int)?
        var resize: (w: Int, h: Int)
        var filter: Resampler.Filter = .bicubic
        var crop: (x: Int, y: Int, w: Int, h: Int)?
    }

    func geometry(width: Int, height: Int) -> Geometry {
        if case .centreCrop(let c, let s) = self {
            let (w, h) = (min(c, width), min(c, height))
            let r = PlanarImage.shorterSide(width: w, height: h, to: s)
            return Geometry(preCrop: (w, h), resize: (r.width, r.height), filter: .bilinear)
        }
        let (resize, crop) = resizeAndCrop(width: width, height: height)
        return Geometry(resize: resize, crop: crop)
    }

    private func resizeAndCrop(width: Int, height: Int) -> (resize: (w: Int, h: Int), crop: (x: Int, y: Int, w: Int, h: Int)?) {
        switch self {
        case .native, .centreCrop:
            return ((width, height), nil)
        case .resize(let s):
            return ((s, s), nil)
        case .scaleWidth(let target, let minHeight):
            if width == target && height >= minHeight { return ((width, height), nil) }
            return ((target, max(Int(Double(target) * Double(height) / Double(width)), minHeight)), nil)
        case .resizeAndCrop(let load, let crop):
            let c = min(crop, load)
            return ((load, load), ((load - c) / 2, (load - c) / 2, c, c))
        case .none:
            func nearest4(_ v: Int) -> Int { Int((Double(v) / 4).rounded(.toNearestOrEven)) * 4 }
            return ((max(nearest4(width), 4), max(nearest4(height), 4)), nil)
        }
    }
}
