import Engine
import Foundation
import Imaging
import Models

/// An image made ready for a generator, with what is needed to turn the output back into a file.
public struct PreparedImage: @unchecked Sendable {
    /// 1×C×H×W in [-1, 1], padded to what the network accepts.
    public var tensor: Tensor
    /// Where the real image lies inside `tensor` (and inside the network's output).
    public var content: (x: Int, y: Int, width: Int, height: Int)
    /// The alpha plane at the output size (0…1), if the input had one.
    public var alpha: [Float]?
    public var iccProfile: Data?
    /// Size of the decoded image, before any resizing (for reports).
    public var sourceSize: (width: Int, height: Int)
    /// For a colorization generator (`predictsAB`): the input's own L (1×1×h×w, L/50 − 1,
    /// unpadded), which the output keeps.
    public var lightness: Tensor?
    /// Pages in the file (a multi-page TIFF converts its first).
    public var pageCount = 1
    /// 8 or 16: the source's sample depth, which the output keeps where its format can.
    public var bitDepth = 8
}

/// Decoded image → generator input: orientation is already applied by the decoder; here come
/// `--max-side`, the preprocessing policy, channel adaptation, scaling to [-1, 1] and padding.
public struct Preprocessor: Sendable {
    public var policy: PreprocessPolicy
    public var maxSide: Int?
    public var architecture: GeneratorArchitecture
    /// The largest image the policy may make (a load size is a number anyone can type).
    public var limits: DecodeLimits

    public init(policy: PreprocessPolicy, maxSide: Int? = nil, architecture: GeneratorArchitecture,
                limits: DecodeLimits = DecodeLimits()) {
        self.policy = policy
        self.maxSide = maxSide
        self.architecture = architecture
        self.limits = limits
    }

    /// The policy's geometry for a `width`×`height` image, refused when it would make an image
    /// larger than `limits` (a decoded image of that size would be refused too).
    func geometry(width: Int, height: Int) throws -> PreprocessPolicy.Geometry {
        let g = policy.geometry(width: width, height: height)
        let (w, h) = g.resize
        guard PlanarImage.fits(width: w, height: h, limits: limits) else {
            throw PipelineError(.invalidDefinition, "preprocess \(policy) makes this \(width)×\(height) image \(w)×\(h), over the limit of \(limits.maxSide) pixels a side and \(limits.maxPixels / 1_000_000) MP; use a smaller load size")
        }
        return g
    }

    /// The generator input size and content rectangle for an image of `width`×`height`, without
    /// decoding it (for `--dry-run` and memory planning).
    public func plannedSize(width: Int, height: Int) throws -> (input: (w: Int, h: Int), output: (w: Int, h: Int)) {
        let (w0, h0) = limited(width, height)
        let g = try geometry(width: w0, height: h0)
        let (w, h) = g.crop.map { ($0.w, $0.h) } ?? g.resize
        return ((padded(w), padded(h)), (w, h))
    }

    public func prepare(_ image: DecodedImage) throws -> PreparedImage {
        var planar = Self.planar(image)
        var alpha: PlanarImage? = nil
        if image.hasAlpha {
            alpha = PlanarImage(width: planar.width, height: planar.height, planes: [planar.planes.removeLast()],
                                maxValue: planar.maxValue)
        }
        // The reference turns colour to grey before it resizes (Grayscale comes first in its
        // get_transform), and resizing rounds, so the order shows. Grey to colour commutes with
        // resizing and waits, so one plane is resized instead of three.
        let want = architecture.inputChannels
        // Colorization reads L from the colour image (or from grey repeated, as convert('RGB')).
        if want < planar.channels && !architecture.predictsAB { planar = planar.adaptingChannels(to: want) }
        func transform(_ f: (PlanarImage) -> PlanarImage) {
            planar = f(planar)
            alpha = alpha.map(f)
        }
        let (w0, h0) = limited(planar.width, planar.height)
        if (w0, h0) != (planar.width, planar.height) { transform { Resampler.resize($0, width: w0, height: h0) } }
        let g = try geometry(width: w0, height: h0)
        if let c = g.preCrop, c != (w0, h0) { transform { $0.centreCropped(width: c.w, height: c.h) } }
        let (w1, h1) = g.preCrop ?? (w0, h0)
        if g.resize != (w1, h1) { transform { Resampler.resize($0, width: g.resize.w, height: g.resize.h, filter: g.filter) } }
        if let c = g.crop { transform { $0.cropped(x: c.x, y: c.y, width: c.w, height: c.h) } }

        let (w, h) = (planar.width, planar.height)
        let lightness = architecture.predictsAB ? try Tensor.colorizationPair(planar, fullDepth: true).l : nil
        let x = try lightness ?? Tensor(normalizing: planar, channels: want)
        let (pw, ph) = (padded(w), padded(h))
        let top = (ph - h) / 2, left = (pw - w) / 2
        var tensor = x
        if (pw, ph) != (w, h) {
            // Reflection continues the picture at the border; it needs the pad to be smaller
            // than the image, so tiny images fall back to repeating the edge.
            let mode: PaddingMode = (ph - h - top) < h && (pw - w - left) < w ? .reflect : .replicate
            tensor = try pad2d(x, top: top, bottom: ph - h - top, left: left, right: pw - w - left, mode: mode)
        }
        var prepared = PreparedImage(tensor: tensor, content: (left, top, w, h),
                                     alpha: alpha.map { a in a.planes[0].map { $0 / a.maxValue } },
                                     iccProfile: image.iccProfile, sourceSize: (image.width, image.height), lightness: lightness)
        prepared.pageCount = image.pageCount
        prepared.bitDepth = image.bitDepth
        return prepared
    }

    private func limited(_ w: Int, _ h: Int) -> (Int, Int) {
        guard let maxSide, max(w, h) > maxSide else { return (w, h) }
        let s = Double(maxSide) / Double(max(w, h))
        return (max(1, Int((Double(w) * s).rounded())), max(1, Int((Double(h) * s).rounded())))
    }

    private func padded(_ v: Int) -> Int {
        let m = architecture.sizeMultiple
        return max(m, (v + m - 1) / m * m)
    }

    /// Gray into a colour model repeats the plane; colour into a gray model takes PIL's 'L'
    /// luma (ITU-R 601-2), as the reference's `transforms.Grayscale(1)` does.
    /// Interleaved samples → planes (colour planes, then alpha).
    static func planar(_ image: DecodedImage) -> PlanarImage { PlanarImage(image) }
}
