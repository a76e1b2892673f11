import Engine
import Imaging
import Runs

/// The reference's training-time `get_params` / `get_transform` (data/base_dataset.py) on
/// decoded images: resize (PIL-exact bicubic, `Resampler`), random crop, random horizontal flip,
/// then [0, max] → [-1, 1].
public struct ReferenceTransform: Sendable {
    public var preprocess: TrainingOptions.Preprocess
    public var loadSize: Int
    public var cropSize: Int
    public var flip: Bool

    public init(preprocess: TrainingOptions.Preprocess, loadSize: Int, cropSize: Int, flip: Bool) {
        self.preprocess = preprocess
        self.loadSize = loadSize
        self.cropSize = cropSize
        self.flip = flip
    }

    public init(_ options: TrainingOptions) {
        self.init(preprocess: options.preprocess, loadSize: options.loadSize, cropSize: options.cropSize, flip: !options.noFlip)
    }

    /// One draw of the random parameters (`get_params`): the crop's corner and whether to flip.
    /// pix2pix draws once per pair so A and B get the same crop and flip.
    public struct Parameters: Equatable, Sendable {
        public var cropX: Int, cropY: Int, flip: Bool
    }

    /// `get_params` for an image of `width`×`height`: the crop corner is drawn within the
    /// resized size, as the reference computes it (`load_size·h // w` for scale_width_and_crop).
    public func parameters(width: Int, height: Int, random: RandomSource) -> Parameters {
        var (w, h) = (width, height)
        switch preprocess {
        case .resizeAndCrop: (w, h) = (loadSize, loadSize)
        case .scaleWidthAndCrop: (w, h) = (loadSize, loadSize * height / max(width, 1))
        default: break
        }
        let x = Self.uniform(0...max(0, w - cropSize), random), y = Self.uniform(0...max(0, h - cropSize), random)
        return Parameters(cropX: x, cropY: y, flip: random.nextUnit() > 0.5)
    }

    /// The size an image of `width`×`height` has once transformed (for validation up front).
    public func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        var (w, h) = resized(width, height)
        if preprocess == .resizeAndCrop || preprocess == .crop || preprocess == .scaleWidthAndCrop {
            if w > cropSize || h > cropSize { (w, h) = (cropSize, cropSize) }
        }
        return (w, h)
    }

    /// Applies `get_transform` with fixed `parameters`.
    public func apply(_ image: PlanarImage, _ p: Parameters) -> PlanarImage {
        var out = image
        let (w, h) = resized(image.width, image.height)
        if (w, h) != (image.width, image.height) { out = Resampler.resize(out, width: w, height: h) }
        if [.resizeAndCrop, .crop, .scaleWidthAndCrop].contains(preprocess), out.width > cropSize || out.height > cropSize {
            // `__crop`; validation guarantees the crop fits, so PIL's zero-fill never happens.
            out = out.cropped(x: p.cropX, y: p.cropY, width: min(cropSize, out.width - p.cropX),
                              height: min(cropSize, out.height - p.cropY))
        }
        if flip && p.flip { out = out.flippedHorizontally() }
        return out
    }


    /// The resize step alone: `Resize([load, load])`, `__scale_width`, or `__make_power_2(base 4)`.
    func resized(_ w: Int, _ h: Int) -> (Int, Int) {
        switch preprocess {
        case .resizeAndCrop: return (loadSize, loadSize)
        case .scaleWidth, .scaleWidthAndCrop:
            if w == loadSize && h >= cropSize { return (w, h) }
            return (loadSize, Int(max(Double(loadSize) * Double(h) / Double(max(w, 1)), Double(cropSize))))
        case .none:
            func nearest4(_ v: Int) -> Int { Int((Double(v) / 4).rounded(.toNearestOrEven)) * 4 }
            return (nearest4(w), nearest4(h))
        case .crop: return (w, h)
        }
    }

    /// `random.randint(a, b)`: uniform over the closed range.
    static func uniform(_ range: ClosedRange<Int>, _ random: RandomSource) -> Int {
        range.lowerBound + Int(random.next() % UInt64(range.count))
    }
}
