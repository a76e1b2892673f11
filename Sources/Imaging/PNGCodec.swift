import CPNG
import Foundation

/// PNG through libpng's simplified API (which does its own setjmp error handling in C).
///
/// Sample values are returned exactly as stored, like Pillow, never gamma-corrected:
/// - The simplified API converts between the file's declared gamma and its output
///   encoding (sRGB for 8-bit formats, *linear* for 16-bit ones), so a 16-bit file with a
///   `gAMA`/`sRGB`/`iCCP` chunk, or an 8-bit one with `gAMA` 1.0, would come back altered.
///   The colorspace chunks are therefore left out of the stream libpng sees; without them
///   8-bit data is taken as sRGB → sRGB and 16-bit data as linear → linear, both no-ops.
///   (The ICC profile is read from the original bytes by `PNGChunks`.)
/// - 16-bit gray and RGB decode to 16 bits unchanged (checked against numpy-written ramps).
///   A `tRNS` key on such an image becomes an alpha channel computed here (0 or 65535),
///   because libpng would premultiply it into the colors.
/// - 16-bit gray+alpha and RGBA cannot keep their values: every 16-bit simplified-API
///   format with alpha is premultiplied. Those decode to 8 bits, each sample
///   `round(v / 257)` (PNG_IMAGE_FLAG_16BIT_sRGB stops libpng from gamma-encoding them
///   as if they were linear), and `DecodedImage.bitDepth` is 8.
/// - Depths below 8 are scaled to 0...255 (1-bit → 0/255, 2-bit × 85, 4-bit × 17).
enum PNGCodec {
    static let colorspaceChunks: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP"]
    /// Deflate cannot do better than 1032:1, so less IDAT than this cannot hold the image.
    static let maxDeflateRatio = 1032
    /// ICC profiles are at most a few MB; this bounds what a tiny iCCP chunk may inflate to.
    static let maxProfileBytes = 64 << 20

    static func decode(_ bytes: Bytes, _ info: PNGInfo) throws(ImageFailure) -> DecodedImage {
        guard info.reachedEnd else { throw ImageFailure(.truncated, "PNG is truncated: no IEND chunk") }
        guard info.imageDataBytes > 0 else { throw ImageFailure(.corrupt, "PNG is corrupt: no image data (IDAT)") }
        if info.rawImageBytes / maxDeflateRatio > info.imageDataBytes + 1024 {
            throw ImageFailure(
                .corrupt,
                "PNG is corrupt: \(info.imageDataBytes) bytes of image data cannot hold "
                    + "\(info.width)×\(info.height) pixels")
        }
        let sixteen = info.bitDepth == 16
        let exact16 = sixteen && !info.hasAlphaChannel
        let alphaFromKey = exact16 && info.transparency != nil

        var format = UInt32(0)
        if info.isColor { format |= PNG_FORMAT_FLAG_COLOR }
        if info.hasAlpha, !alphaFromKey { format |= PNG_FORMAT_FLAG_ALPHA }
        if exact16 { format |= PNG_FORMAT_FLAG_LINEAR }
        let extraFlags = sixteen && !exact16 ? UInt32(PNG_IMAGE_FLAG_16BIT_sRGB) : 0

        var dropping = colorspaceChunks
        if alphaFromKey { dropping.insert("tRNS") }
        let needsRebuild = info.chunks.contains { dropping.contains($0.type) }
        let stream = needsRebuild ? PNGChunks.rebuild(bytes, info, dropping: dropping) : bytes.data

        let colorChannels = info.isColor ? 3 : 1
        let libpngChannels = colorChannels + (format & PNG_FORMAT_FLAG_ALPHA != 0 ? 1 : 0)
        let count = info.width * info.height * libpngChannels
        var samples: [UInt16]
        if exact16 {
            samples = try read(stream, info, format: format, flags: extraFlags, count: count, as: UInt16.self)
        } else {
            let bytes8 = try read(stream, info, format: format, flags: extraFlags, count: count, as: UInt8.self)
            samples = bytes8.map(UInt16.init)
        }
        if alphaFromKey, let key = info.transparency {
            samples = try addKeyAlpha(samples, key: key, channels: colorChannels)
        }
        var profile: Data?
        if let compressed = info.iccCompressed {
            // Like libpng and Pillow, a profile that does not inflate is ignored, not fatal.
            profile = Zlib.decompress(compressed, limit: maxProfileBytes)
        }
        return DecodedImage(
            width: info.width, height: info.height, colorChannels: colorChannels, hasAlpha: info.hasAlpha,
            bitDepth: exact16 ? 16 : 8, samples: samples, iccProfile: profile, format: .png, orientation: 1)
    }

    private static func read<T: FixedWidthInteger>(
        _ stream: Data, _ info: PNGInfo, format: UInt32, flags: UInt32, count: Int, as: T.Type
    ) throws(ImageFailure) -> [T] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        var buffer = [T]()
        let failure: ImageFailure? = stream.withUnsafeBytes { raw in
            // libpng reads from `raw` until finish_read returns, so both calls stay in here.
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                return libpngFailure(image)
            }
            guard Int(image.width) == info.width, Int(image.height) == info.height else {
                return ImageFailure(.corrupt, "PNG is corrupt: libpng disagrees about the image size")
            }
            image.format = format
            image.flags |= flags
            buffer = [T](repeating: 0, count: count)
            let ok = buffer.withUnsafeMutableBytes { out in
                png_image_finish_read(&image, nil, out.baseAddress, 0, nil)
            }
            if ok == 0 { return libpngFailure(image) }
            if image.warning_or_error & UInt32(PNG_IMAGE_WARNING) != 0, message(image).contains("CRC") {
                return ImageFailure(.corrupt, "PNG is corrupt: \(message(image))")
            }
            return nil
        }
        if let failure { throw failure }
        return buffer
    }

    private static func message(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func libpngFailure(_ image: png_image) -> ImageFailure {
        let text = message(image)
        let lower = text.lowercased()
        if lower.contains("read beyond end") || lower.contains("unexpected end") {
            return ImageFailure(.truncated, "PNG is truncated: \(text)")
        }
        return ImageFailure(.corrupt, "PNG is corrupt: \(text.isEmpty ? "libpng could not decode it" : text)")
    }

    /// Gray or RGB 16-bit samples plus a `tRNS` key → the same samples with alpha appended.
    private static func addKeyAlpha(_ samples: [UInt16], key: Data, channels: Int) throws(ImageFailure) -> [UInt16] {
        guard key.count >= channels * 2 else {
            throw ImageFailure(.corrupt, "PNG is corrupt: tRNS chunk too short for the color type")
        }
        let k = Bytes(key)
        let keyValues = (0..<channels).map { UInt16(k.u16be($0 * 2)) }
        let pixels = samples.count / channels
        var out = [UInt16](repeating: 0, count: pixels * (channels + 1))
        for p in 0..<pixels {
            var matches = true
            for c in 0..<channels {
                let value = samples[p * channels + c]
                out[p * (channels + 1) + c] = value
                if value != keyValues[c] { matches = false }
            }
            out[p * (channels + 1) + channels] = matches ? 0 : 0xFFFF
        }
        return out
    }
}
