import CWebP
import Foundation

/// WebP writing through libwebp's advanced API, and the `ICCP` chunk through libwebpmux.
///
/// - Lossy (VP8): `quality` 1...100 as cwebp's `-q`, method 4 (cwebp's default). Alpha is
///   coded losslessly beside it; colors under fully transparent pixels may be changed, as
///   they are invisible.
/// - Lossless (VP8L): every sample kept, including colors under transparent pixels
///   (`exact`); `quality` does not apply (the effort is cwebp -lossless's default).
/// - WebP has no gray: gray is written as R = G = B (and decodes as RGB).
enum WebPEncoder {
    static func encode(_ image: EncodableImage, quality: Int, lossless: Bool) throws(ImageFailure) -> Data {
        guard image.width <= WebPCodec.maxSide, image.height <= WebPCodec.maxSide else {
            throw ImageFailure(
                .tooLarge, "\(image.width)×\(image.height) is larger than WebP allows (\(WebPCodec.maxSide) per side)")
        }
        var config = WebPConfig()
        guard WebPConfigInit(&config) != 0 else { throw ImageFailure(.corrupt, "could not start the WebP encoder") }
        config.lossless = lossless ? 1 : 0
        config.quality = lossless ? 75 : Float(quality)
        config.method = 4
        config.exact = lossless ? 1 : 0
        guard WebPValidateConfig(&config) != 0 else { throw ImageFailure(.corrupt, "invalid WebP encoder settings") }

        let channels = image.hasAlpha ? 4 : 3
        let rgb = image.colorChannels == 3 ? image.samples : expandGray(image.samples, alpha: image.hasAlpha)
        var picture = WebPPicture()
        guard WebPPictureInit(&picture) != 0 else { throw ImageFailure(.corrupt, "could not start the WebP encoder") }
        defer { WebPPictureFree(&picture) }
        picture.width = Int32(image.width)
        picture.height = Int32(image.height)
        picture.use_argb = 1  // required by lossless; lossy converts to YUV itself
        let imported = rgb.withUnsafeBufferPointer { src in
            let stride = Int32(image.width * channels)
            return image.hasAlpha
                ? WebPPictureImportRGBA(&picture, src.baseAddress, stride)
                : WebPPictureImportRGB(&picture, src.baseAddress, stride)
        }
        guard imported != 0 else { throw ImageFailure(.corrupt, "could not encode WebP: out of memory") }

        let writer = UnsafeMutablePointer<WebPMemoryWriter>.allocate(capacity: 1)
        WebPMemoryWriterInit(writer)
        defer {
            WebPMemoryWriterClear(writer)
            writer.deallocate()
        }
        picture.writer = WebPMemoryWrite
        picture.custom_ptr = UnsafeMutableRawPointer(writer)
        guard WebPEncode(&config, &picture) != 0, let mem = writer.pointee.mem else {
            throw ImageFailure(.corrupt, "could not encode WebP (libwebp error \(picture.error_code.rawValue))")
        }
        let webp = Data(bytes: mem, count: writer.pointee.size)
        guard let profile = image.iccProfile, !profile.isEmpty else { return webp }
        return try embed(profile, in: webp)
    }

    private static func expandGray(_ samples: [UInt8], alpha: Bool) -> [UInt8] {
        let step = alpha ? 2 : 1
        var out = [UInt8]()
        out.reserveCapacity(samples.count / step * (alpha ? 4 : 3))
        for i in stride(from: 0, to: samples.count, by: step) {
            out.append(contentsOf: [samples[i], samples[i], samples[i]])
            if alpha { out.append(samples[i + 1]) }
        }
        return out
    }

    /// The same image with an `ICCP` chunk (and the VP8X header that announces it).
    static func embed(_ profile: Data, in webp: Data) throws(ImageFailure) -> Data {
        let assembled: Data? = webp.withUnsafeBytes { image in
            profile.withUnsafeBytes { icc in
                var bitstream = WebPData(bytes: image.bindMemory(to: UInt8.self).baseAddress, size: image.count)
                guard let mux = WebPMuxCreate(&bitstream, 1) else { return nil }
                defer { WebPMuxDelete(mux) }
                var chunk = WebPData(bytes: icc.bindMemory(to: UInt8.self).baseAddress, size: icc.count)
                guard WebPMuxSetChunk(mux, "ICCP", &chunk, 1) == WEBP_MUX_OK else { return nil }
                var out = WebPData()
                guard WebPMuxAssemble(mux, &out) == WEBP_MUX_OK, let bytes = out.bytes else { return nil }
                defer { WebPDataClear(&out) }
                return Data(bytes: bytes, count: out.size)
            }
        }
        guard let assembled else { throw ImageFailure(.corrupt, "could not embed the ICC profile in the WebP") }
        return assembled
    }
}
