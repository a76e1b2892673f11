import CWebP
import Foundation

/// What a WebP declares: the VP8/VP8L frame header through `WebPGetFeatures`, and the RIFF
/// chunks through `WebPDemux` (frame count, `ICCP`, the orientation in `EXIF`).
struct WebPInfo {
    var header: ImageHeader
    var iccProfile: Data?
}

/// Still WebP through libwebp, decoded to 8-bit RGB or RGBA as Pillow does (libwebp is the
/// same library, so the samples are the same). Animations are refused: converting one frame
/// of many silently would lose the rest.
enum WebPCodec {
    /// The largest side libwebp encodes (`WEBP_MAX_DIMENSION`).
    static let maxSide = 16383

    static func readInfo(_ bytes: Bytes) throws(ImageFailure) -> WebPInfo {
        var features = WebPBitstreamFeatures()
        let status = bytes.data.withUnsafeBytes { raw in
            WebPGetFeatures(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &features)
        }
        guard status == VP8_STATUS_OK else { throw failure(status, bytes) }
        let chunks = try demux(bytes)
        if features.has_animation != 0 {
            throw ImageFailure(
                .unsupportedFormat,
                "animated WebP is not supported (\(chunks.frames) frames; only still images are converted)")
        }
        let header = ImageHeader(
            format: .webp, width: Int(features.width), height: Int(features.height), colorChannels: 3,
            hasAlpha: features.has_alpha != 0, bitDepth: 8, orientation: chunks.orientation)
        return WebPInfo(header: header, iccProfile: chunks.icc)
    }

    private static func demux(_ bytes: Bytes) throws(ImageFailure) -> (frames: Int, icc: Data?, orientation: Int) {
        let result: (Int, Data?, Int)? = bytes.data.withUnsafeBytes { raw in
            var data = WebPData(bytes: raw.bindMemory(to: UInt8.self).baseAddress, size: raw.count)
            // Strict: a RIFF size that disagrees with the data is an error here (as in Pillow,
            // which decodes through the demuxer too), where WebPDecode alone would not mind.
            guard let demuxer = WebPDemux(&data) else { return nil }
            defer { WebPDemuxDelete(demuxer) }
            let frames = Int(WebPDemuxGetI(demuxer, WEBP_FF_FRAME_COUNT))
            let icc = chunk("ICCP", demuxer)
            var orientation = 1
            if var exif = chunk("EXIF", demuxer) {
                // Some writers keep JPEG's "Exif\0\0" prefix in front of the TIFF structure.
                if exif.starts(with: Array("Exif\0\0".utf8)) { exif = exif.dropFirst(6) }
                orientation = JPEGMarkers.exifOrientation(Bytes(Data(exif)))
            }
            return (frames, icc, orientation)
        }
        guard let result else {
            let declared = bytes.has(4, 4) ? bytes.u32le(4) + 8 : Int.max
            if bytes.count < declared {
                throw ImageFailure(.truncated, "WebP is truncated: the RIFF header declares \(declared) bytes, the file has \(bytes.count)")
            }
            throw ImageFailure(.corrupt, "WebP is corrupt: its RIFF chunks are inconsistent")
        }
        return result
    }

    private static func chunk(_ fourCC: String, _ demuxer: OpaquePointer) -> Data? {
        var iterator = WebPChunkIterator()
        guard WebPDemuxGetChunk(demuxer, fourCC, 1, &iterator) != 0 else { return nil }
        defer { WebPDemuxReleaseChunkIterator(&iterator) }
        guard let start = iterator.chunk.bytes, iterator.chunk.size > 0 else { return nil }
        return Data(bytes: start, count: iterator.chunk.size)
    }

    static func decode(_ bytes: Bytes, _ info: WebPInfo) throws(ImageFailure) -> DecodedImage {
        var config = WebPDecoderConfig()
        guard WebPInitDecoderConfig(&config) != 0 else { throw ImageFailure(.corrupt, "could not start the WebP decoder") }
        let width = info.header.width, height = info.header.height
        let channels = info.header.hasAlpha ? 4 : 3
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        let status = pixels.withUnsafeMutableBufferPointer { out in
            bytes.data.withUnsafeBytes { raw in
                config.output.colorspace = info.header.hasAlpha ? MODE_RGBA : MODE_RGB
                config.output.is_external_memory = 1
                config.output.u.RGBA.rgba = out.baseAddress
                config.output.u.RGBA.stride = Int32(width * channels)
                config.output.u.RGBA.size = out.count
                defer { WebPFreeDecBuffer(&config.output) }
                return WebPDecode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &config)
            }
        }
        guard status == VP8_STATUS_OK else { throw failure(status, bytes) }
        guard Int(config.output.width) == width, Int(config.output.height) == height else {
            throw ImageFailure(.corrupt, "WebP is corrupt: the frame size differs from the header's")
        }
        let upright = Orientation.apply(info.header.orientation, to: pixels, width: width, height: height, channels: channels)
        return DecodedImage(
            width: upright.width, height: upright.height, colorChannels: 3, hasAlpha: info.header.hasAlpha, bitDepth: 8,
            samples: upright.samples, iccProfile: info.iccProfile, format: .webp, orientation: info.header.orientation)
    }

    private static func failure(_ status: VP8StatusCode, _ bytes: Bytes) -> ImageFailure {
        switch status {
        case VP8_STATUS_NOT_ENOUGH_DATA:
            ImageFailure(.truncated, "WebP is truncated: libwebp needs more data than the \(bytes.count) bytes")
        case VP8_STATUS_UNSUPPORTED_FEATURE:
            ImageFailure(.unsupportedFormat, "WebP uses a feature libwebp does not support")
        case VP8_STATUS_OUT_OF_MEMORY:
            ImageFailure(.tooLarge, "WebP needs more memory than is available")
        default:
            ImageFailure(.corrupt, "WebP is corrupt: invalid bitstream (libwebp status \(status.rawValue))")
        }
    }
}
