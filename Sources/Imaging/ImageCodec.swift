import AtomicFiles
import Foundation

/// Reads and writes PNG, JPEG, TIFF and WebP files for the pipeline.
///
/// All entry points are safe to call from several threads at once: nothing is shared
/// between calls (each JPEG call owns its TurboJPEG handle, each PNG call its `png_image`,
/// each TIFF call its libtiff handle with per-handle error handlers, each WebP call its
/// decoder or encoder configuration).
/// Every failure is an `ImageError` naming the file; no partially decoded image is returned.
public enum ImageCodec {
    /// Reads what the file declares (format, size, channels, depth, EXIF orientation)
    /// without decoding pixels. The format is sniffed from the content (JPEG `FF D8 FF`,
    /// the PNG signature, TIFF `II*\0`/`MM\0*` and BigTIFF, `RIFF….WEBP`), never from the
    /// extension. Limits are not applied here, so a decompression bomb reports its declared
    /// size; `decode` refuses it. An animated WebP is refused here already.
    public static func readHeader(_ data: Data, path: String) throws(ImageError) -> ImageHeader {
        do {
            return try parseHeader(Bytes(data)).header
        } catch {
            throw error.at(path)
        }
    }

    /// Decodes the whole image and turns it upright by its EXIF orientation (TIFF: its
    /// Orientation tag; WebP: the orientation in its EXIF chunk).
    ///
    /// The declared size is checked against `limits` right after the PNG IHDR / JPEG frame
    /// header / TIFF directory / WebP frame header is read, before any pixel memory is
    /// allocated. Sample values are those stored in the file, as Pillow returns them: no gamma
    /// or color management is applied (the ICC profile is returned for the caller to carry
    /// over). See `PNGCodec` for 16-bit PNGs: gray and RGB keep their 16-bit values;
    /// gray+alpha and RGBA decode to 8 bits, rounded. CMYK/YCCK JPEGs are converted to RGB
    /// assuming Adobe-inverted CMYK, like Pillow. TIFF: the first page only
    /// (`DecodedImage.pageCount` tells how many there are), 16 bits kept for gray and RGB with
    /// or without alpha, associated alpha un-premultiplied; see `TIFFPixels`. WebP: 8-bit RGB
    /// or RGBA.
    public static func decode(
        _ data: Data, path: String, limits: DecodeLimits = .init()
    ) throws(ImageError) -> DecodedImage {
        do {
            let bytes = Bytes(data)
            let parsed = try parseHeader(bytes)
            try check(parsed.header, against: limits)
            switch parsed {
            case .png:
                return try PNGCodec.decode(bytes, PNGChunks.walk(bytes, headerOnly: false))
            case .jpeg(let info):
                return try JPEGCodec.decode(bytes, info)
            case .tiff(let info):
                return try TIFFCodec.decode(bytes, info, limits: limits)
            case .webp(let info):
                return try WebPCodec.decode(bytes, info)
            }
        } catch {
            throw error.at(path)
        }
    }

    /// What a file of `mode` (from `stat`) is when it is not a regular file ("a named pipe",
    /// "a device", …), or nil for a regular file.
    public static func nonRegularKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFDIR: "a folder"
        case S_IFIFO: "a named pipe"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "a special file"
        }
    }

    /// Reads the file at `path` and decodes it; a file that cannot be read is `unreadable`.
    public static func decodeFile(atPath path: String, limits: DecodeLimits = .init()) throws(ImageError) -> DecodedImage {
        let data: Data
        var st = stat()
        if stat(path, &st) == 0, let kind = nonRegularKind(st.st_mode) {
            // A FIFO would block the read forever and a device never ends (Foundation calls it a
            // permission problem): only regular files are images.
            throw ImageError(code: .unreadable, path: path, message: "cannot read the file: it is \(kind), not a regular file")
        }
        // Read whole, so bounded first: no image within the limits needs more than 8 bytes a
        // pixel (16-bit RGBA stored uncompressed) and some metadata.
        let largestFile = Int64(limits.maxPixels) * 8 + (256 << 20)
        if st.st_size > largestFile {
            throw ImageError(code: .tooLarge, path: path, message: "the file is \(st.st_size >> 20) MB, more than any image within the limits (\(limits.maxPixels) pixels) needs")
        }
        if let injected = FaultInjection.errno(for: path) {
            var e = ImageError(code: .unreadable, path: path, message: "cannot read the file: \(String(cString: strerror(injected)))")
            e.errno = TransientFault.inputCodes.contains(injected) ? injected : nil
            throw e
        }
        do {
            // Read, not mapped: a mapped file that shrinks under us, or a disk that fails while a
            // page is read, ends the process with SIGBUS instead of an error.
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            var e = ImageError(code: .unreadable, path: path, message: "cannot read the file: \(reason)")
            e.errno = Self.systemError(error).flatMap { TransientFault.inputCodes.contains($0) ? $0 : nil }
            throw e
        }
        return try decode(data, path: path, limits: limits)
    }

    /// The errno under a Foundation file error, if it carries one.
    static func systemError(_ error: any Error) -> Int32? {
        var ns: NSError? = error as NSError
        for _ in 0..<8 {
            guard let e = ns else { return nil }
            if e.domain == NSPOSIXErrorDomain { return Int32(e.code) }
            ns = e.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        return nil
    }

    /// Encodes 8-bit samples as PNG, JPEG, TIFF or WebP, embedding `iccProfile` when present.
    ///
    /// PNG: lossless, gray / gray+alpha / RGB / RGBA kept as given; the profile goes in an
    /// `iCCP` chunk right after IHDR (replacing the `sRGB` chunk libpng writes).
    /// JPEG: `quality` is clamped to 1...100; chroma is 4:2:0 below 90 and 4:4:4 from 90 up;
    /// gray is written as single-channel JPEG; alpha is dropped because JPEG cannot store it;
    /// the profile goes in APP2 `ICC_PROFILE` segments after SOI/APP0.
    /// TIFF: lossless (Deflate with the horizontal predictor), gray / gray+alpha / RGB / RGBA
    /// kept as given (alpha unassociated); the profile goes in the ICCProfile tag.
    /// WebP: lossy with `quality` (clamped to 1...100, as cwebp's `-q`), or lossless when
    /// `lossless` is true (then `quality` does not apply); gray is written as RGB, alpha kept;
    /// the profile goes in an `ICCP` chunk. At most 16383 pixels a side.
    ///
    /// 16 bits: with `samples16` set, TIFF is written at 16 bits, and PNG too unless it has
    /// alpha (libpng's simplified API premultiplies 16-bit alpha); the rest write `samples`.
    ///
    /// `lossless` only chooses between WebP's two codings: PNG and TIFF are always lossless,
    /// and asking for a lossless JPEG is an `unsupportedFormat` error rather than a silent
    /// lossy file.
    public static func encode(
        _ image: EncodableImage, as format: ImageFormat, quality: Int = 95, lossless: Bool = false, path: String
    ) throws(ImageError) -> Data {
        do throws(ImageFailure) {
            try validate(image)
            let quality = min(100, max(1, quality))
            switch format {
            case .png: return try PNGEncoder.encode(image)
            case .jpeg:
                if lossless {
                    throw ImageFailure(.unsupportedFormat, "JPEG cannot be written lossless (use PNG, TIFF or WebP)")
                }
                return try JPEGCodec.encode(image, quality: quality)
            case .tiff: return try TIFFEncoder.encode(image)
            case .webp: return try WebPEncoder.encode(image, quality: quality, lossless: lossless)
            }
        } catch {
            throw error.at(path)
        }
    }

    enum ParsedHeader {
        case png(PNGInfo)
        case jpeg(JPEGInfo)
        case tiff(TIFFInfo)
        case webp(WebPInfo)

        var header: ImageHeader {
            switch self {
            case .png(let info): info.header
            case .jpeg(let info): info.header
            case .tiff(let info): info.header
            case .webp(let info): info.header
            }
        }
    }

    static func parseHeader(_ bytes: Bytes) throws(ImageFailure) -> ParsedHeader {
        guard bytes.count > 0 else { throw ImageFailure(.empty, "file is empty (0 bytes)") }
        switch FormatSniffer.sniff(bytes) {
        case .png:
            return .png(try PNGChunks.walk(bytes, headerOnly: true))
        case .jpeg:
            return .jpeg(try JPEGMarkers.walk(bytes))
        case .tiff:
            return .tiff(try TIFFCodec.readInfo(bytes))
        case .webp:
            return .webp(try WebPCodec.readInfo(bytes))
        case .truncatedSignature(let format):
            throw ImageFailure(.truncated, "\(format.displayName) is truncated: only \(bytes.count) bytes")
        case .unsupported(let name):
            throw ImageFailure(.unsupportedFormat, "\(name) images are not supported (only PNG, JPEG, TIFF and WebP)")
        case .notAnImage(let what):
            throw ImageFailure(.notAnImage, "not an image: the content is \(what)")
        }
    }

    static func check(_ header: ImageHeader, against limits: DecodeLimits) throws(ImageFailure) {
        let pixels = header.width.multipliedReportingOverflow(by: header.height)
        if header.width > limits.maxSide || header.height > limits.maxSide || pixels.overflow
            || pixels.partialValue > limits.maxPixels
        {
            throw ImageFailure(
                .tooLarge,
                "image header declares \(header.width)×\(header.height) pixels, over the limit of "
                    + "\(limits.maxPixels) pixels and \(limits.maxSide) per side (a decompression bomb?)")
        }
    }

    private static func validate(_ image: EncodableImage) throws(ImageFailure) {
        guard image.colorChannels == 1 || image.colorChannels == 3 else {
            throw ImageFailure(.invalidSize, "cannot encode \(image.colorChannels) color channels (only 1 or 3)")
        }
        guard image.width > 0, image.height > 0 else {
            throw ImageFailure(.invalidSize, "cannot encode a \(image.width)×\(image.height) image")
        }
        let expected = image.width.multipliedReportingOverflow(by: image.height)
        let samples = expected.partialValue.multipliedReportingOverflow(by: image.channelsPerPixel)
        guard !expected.overflow, !samples.overflow, samples.partialValue == image.samples.count else {
            throw ImageFailure(
                .invalidSize,
                "cannot encode: \(image.samples.count) samples for \(image.width)×\(image.height)×"
                    + "\(image.channelsPerPixel)")
        }
        guard image.width <= 0x7FFF_FFFF, image.height <= 0x7FFF_FFFF else {
            throw ImageFailure(.tooLarge, "cannot encode a \(image.width)×\(image.height) image")
        }
        if let wide = image.samples16, wide.count != image.samples.count {
            throw ImageFailure(.invalidSize, "cannot encode: \(wide.count) 16-bit samples for \(image.samples.count) 8-bit ones")
        }
    }
}
