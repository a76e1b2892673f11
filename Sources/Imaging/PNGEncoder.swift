import CPNG
import Foundation

/// 8-bit PNG writing through libpng's simplified API, plus the `iCCP` chunk it cannot write.
enum PNGEncoder {
    /// The keyword written in `iCCP`; readers ignore it, but it must be 1-79 Latin-1 bytes.
    static let profileName = "ICC Profile"

    static func encode(_ image: EncodableImage) throws(ImageFailure) -> Data {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        // 16-bit only without alpha: the simplified API takes 16-bit alpha as premultiplied.
        let wide = image.hasAlpha ? nil : image.samples16
        png.format = (image.colorChannels == 3 ? PNG_FORMAT_FLAG_COLOR : 0) | (image.hasAlpha ? PNG_FORMAT_FLAG_ALPHA : 0)
            | (wide != nil ? PNG_FORMAT_FLAG_LINEAR : 0)
        defer { png_image_free(&png) }

        var size = 0
        let encoded: Data? = (wide.map { Data(bytes: $0, count: $0.count * 2) } ?? Data(image.samples)).withUnsafeBytes { pixels in
            // The first call only measures; the second writes into a buffer of that size.
            guard png_image_write_to_memory(&png, nil, &size, 0, pixels.baseAddress, 0, nil) != 0 else { return nil }
            var out = Data(count: size)
            let ok = out.withUnsafeMutableBytes { raw in
                png_image_write_to_memory(&png, raw.baseAddress, &size, 0, pixels.baseAddress, 0, nil)
            }
            guard ok != 0 else { return nil }
            out.count = size
            return out
        }
        guard let encoded else {
            let text = withUnsafeBytes(of: png.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw ImageFailure(.corrupt, "could not encode PNG: \(text)")
        }
        // The simplified API labels 16-bit data linear (gAMA 1.0, cHRM) and writes the values as
        // given; ours are sRGB-encoded like the 8-bit ones, so the label becomes sRGB's.
        let labelled = wide == nil ? encoded : try relabel(encoded, dropping: ["gAMA", "cHRM"], adding: PNGChunks.makeChunk("sRGB", Data([0])))
        guard let profile = image.iccProfile, !profile.isEmpty else { return labelled }
        return try embed(profile, in: labelled)
    }

    /// `png` without the chunks of `dropping`, with `adding` right after IHDR.
    static func relabel(_ png: Data, dropping: Set<String>, adding: Data) throws(ImageFailure) -> Data {
        let b = Bytes(png)
        let info: PNGInfo
        do {
            info = try PNGChunks.walk(b, headerOnly: false)
        } catch {
            throw ImageFailure(.corrupt, "libpng wrote an unreadable PNG: \(error.message)")
        }
        var out = Data(FormatSniffer.pngSignature)
        out.reserveCapacity(png.count + adding.count)
        for chunk in info.chunks where !dropping.contains(chunk.type) {
            out.append(b.slice(chunk.offset, chunk.totalLength))
            if chunk.type == "IHDR" { out.append(adding) }
        }
        return out
    }

    /// Inserts `iCCP` right after IHDR and drops the `sRGB` chunk libpng wrote, since the
    /// PNG spec forbids both at once (the profile is the more specific statement).
    static func embed(_ profile: Data, in png: Data) throws(ImageFailure) -> Data {
        guard let compressed = Zlib.compress(profile) else {
            throw ImageFailure(.corrupt, "could not compress the ICC profile")
        }
        var payload = Data(profileName.utf8)
        payload.append(contentsOf: [0, 0])  // keyword terminator, compression method 0 (zlib)
        payload.append(compressed)
        return try relabel(png, dropping: ["sRGB", "iCCP"], adding: PNGChunks.makeChunk("iCCP", payload))
    }
}
