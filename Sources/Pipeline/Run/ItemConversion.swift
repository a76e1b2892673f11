import Engine
import Foundation
import Imaging
import Models

/// One image's conversion, the one path `convert`'s stages and `watch` share: decode (orientation
/// applied, bombs refused from the header) → prepare for the generator → run it (whole, or
/// streamed when over the memory budget) → 8-bit image (alpha and ICC profile kept) → PNG/JPEG
/// bytes. Where the bytes go (an output folder, a watch claim's work file) is the caller's.
public struct ItemConversion: Sendable {
    public let configuration: ConversionPlan
    public let preprocessor: Preprocessor
    public let family: GeneratorArchitecture.Family

    public init(architecture: GeneratorArchitecture, configuration: ConversionPlan) {
        self.configuration = configuration
        family = architecture.family
        preprocessor = Preprocessor(policy: configuration.preprocess, maxSide: configuration.maxSide, architecture: architecture,
                                    limits: configuration.decodeLimits)
    }

    /// The file at `path`, decoded and prepared for the generator.
    public func decode(_ path: String) throws -> PreparedImage {
        try preprocessor.prepare(try ImageCodec.decodeFile(atPath: path, limits: configuration.decodeLimits))
    }

    /// Image `batchIndex` of the generator's `output` for `prepared`, encoded as `format` (the
    /// reference's quantisation for the family); `path` names it in errors.
    public func encode(_ output: Tensor, batchIndex: Int = 0, prepared: PreparedImage, as format: ImageFormat,
                       path: String) throws -> Data {
        if let lightness = prepared.lightness {
            // Colorization: the input's own L with the predicted ab, as the reference's visuals.
            let image = try Tensor.colorized(l: lightness, ab: output, batchIndex: batchIndex, content: prepared.content,
                                             alpha: prepared.alpha, iccProfile: prepared.iccProfile, gamut: configuration.gamut)
            return try ImageCodec.encode(image, as: format, quality: configuration.quality, lossless: configuration.lossless && format == .webp, path: path)
        }
        // Crop the padding away, map [-1, 1] to 0…255 as the reference saves results, and
        // re-attach the input's alpha and ICC profile.
        let image = output.quantized(batchIndex: batchIndex, content: prepared.content, alpha: prepared.alpha,
                                     iccProfile: prepared.iccProfile, Quantization(for: family),
                                     sixteenBit: prepared.bitDepth == 16 && [.png, .tiff].contains(format))
        return try ImageCodec.encode(image, as: format, quality: configuration.quality, lossless: configuration.lossless && format == .webp, path: path)
    }

    /// All of it for one file, as `watch` converts a claim.
    public func convert(_ input: URL, runner: GeneratorRunner, as format: ImageFormat) throws -> Data {
        let prepared = try decode(input.path)
        return try encode(try runner.run(prepared.tensor), prepared: prepared, as: format, path: input.lastPathComponent)
    }
}

extension OutputFormat {
    /// `png`, `jpg` (or `jpeg`), `tif` (or `tiff`), `webp` or `same`, as flags and pipeline files spell it.
    public init?(name: String) {
        switch name.lowercased() {
        case "jpeg": self = .jpg
        case "tif": self = .tiff
        default: self.init(rawValue: name.lowercased())
        }
    }

    /// The output file's extension for an input named `name`: `same` keeps PNG, TIFF and WebP
    /// in their own format (and spelling) and writes every other input as JPEG.
    public func fileExtension(forInput name: String) -> String {
        switch self {
        case .png: return "png"
        case .jpg: return "jpg"
        case .tiff: return "tif"
        case .webp: return "webp"
        case .same:
            let ext = (name as NSString).pathExtension.lowercased()
            return ["png", "tif", "tiff", "webp"].contains(ext) ? ext : "jpg"
        }
    }

    /// How to encode an output file, by its extension (PNG when it names no format Gantry writes).
    public static func imageFormat(forOutput url: URL) -> ImageFormat {
        ImageFormat(fileExtension: url.pathExtension) ?? .png
    }
}

/// The names a file takes when its own is taken: `name.ext`, then `name-1.ext`, `name-2.ext`, …
public enum UniqueName {
    /// `name` with `-n` before its extension (`n` 0: `name` itself).
    public static func numbered(_ name: String, _ n: Int) -> String {
        guard n > 0 else { return name }
        let stem = (name as NSString).deletingPathExtension, ext = (name as NSString).pathExtension
        return ext.isEmpty ? "\(stem)-\(n)" : "\(stem)-\(n).\(ext)"
    }

    /// `url`, then its numbered variants in the same folder.
    public static func candidates(_ url: URL) -> some Sequence<URL> {
        let folder = url.deletingLastPathComponent(), name = url.lastPathComponent
        return (0...).lazy.map { folder.appendingPathComponent(numbered(name, $0)) }
    }
}
