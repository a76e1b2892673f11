import CTurboJPEG
import Foundation

/// JPEG through TurboJPEG, which keeps libjpeg's setjmp/longjmp error handling inside C.
/// Each call creates and destroys its own handle, so calls on different threads share nothing.
enum JPEGCodec {
    /// Warnings are failures: libjpeg otherwise "recovers" from a truncated or damaged
    /// scan by filling the rest with grey, which must never reach the pipeline.
    static let decodeFlags = TJFLAG_STOPONWARNING | TJFLAG_ACCURATEDCT

    static func decode(_ bytes: Bytes, _ info: JPEGInfo) throws(ImageFailure) -> DecodedImage {
        guard let handle = tjInitDecompress() else {
            throw ImageFailure(.corrupt, "could not start the JPEG decoder")
        }
        defer { tjDestroy(handle) }
        try JPEGMarkers.checkDataSuffices(info)
        try confirmSize(handle, bytes, info)
        let pixelFormat = switch info.components {
        case 1: TJPF_GRAY
        case 3: TJPF_RGB
        default: TJPF_CMYK  // libjpeg turns YCCK into CMYK; converted to RGB below
        }
        var pixels = [UInt8](repeating: 0, count: info.width * info.height * info.components)
        let status = pixels.withUnsafeMutableBufferPointer { out in
            bytes.data.withUnsafeBytes { raw in
                tjDecompress2(
                    handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), out.baseAddress,
                    Int32(info.width), 0, Int32(info.height), Int32(pixelFormat.rawValue), decodeFlags)
            }
        }
        // A warning may be reported with status 0 too, so the error code is checked either way.
        if status != 0 || tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) {
            throw failure(String(cString: tjGetErrorStr2(handle)))
        }
        let colorChannels = info.components == 1 ? 1 : 3
        let rgb = info.components == 4 ? cmykToRGB(pixels) : pixels
        let upright = Orientation.apply(
            info.orientation, to: rgb, width: info.width, height: info.height,
            channels: colorChannels)
        return DecodedImage(
            width: upright.width, height: upright.height, colorChannels: colorChannels, hasAlpha: false,
            bitDepth: 8, samples: upright.samples, iccProfile: info.iccProfile, format: .jpeg,
            orientation: info.orientation)
    }

    /// libjpeg must see the frame our marker walk saw: tjDecompress2 would otherwise scale a
    /// larger image down to fit the buffer instead of failing. TurboJPEG 2.x refuses to report
    /// headers with unusual chroma subsampling, which libjpeg still decodes, so that one
    /// refusal is not an error.
    private static func confirmSize(_ handle: tjhandle, _ bytes: Bytes, _ info: JPEGInfo) throws(ImageFailure) {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let status = bytes.data.withUnsafeBytes { raw in
            tjDecompressHeader3(
                handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), &width, &height, &subsampling,
                &colorspace)
        }
        if status != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            if message.contains("subsampling") { return }
            throw failure(message)
        }
        guard Int(width) == info.width, Int(height) == info.height else {
            throw ImageFailure(.corrupt, "JPEG is corrupt: inconsistent frame headers")
        }
    }

    static func failure(_ message: String) -> ImageFailure {
        // libjpeg says "Premature end of JPEG file" when the data simply stops.
        if message.localizedCaseInsensitiveContains("premature end of jpeg file") {
            return ImageFailure(.truncated, "JPEG is truncated: \(message)")
        }
        return ImageFailure(.corrupt, "JPEG is corrupt: \(message)")
    }

    /// CMYK as libjpeg returns it → RGB with Pillow's formula, so results match PIL.
    /// Like Pillow, the samples are taken to be Adobe-inverted (what Photoshop and
    /// libjpeg write, the overwhelmingly common case): stored 255 means no ink.
    static func cmykToRGB(_ cmyk: [UInt8]) -> [UInt8] {
        let pixels = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: pixels * 3)
        for p in 0..<pixels {
            let notBlack = Int(cmyk[p * 4 + 3])  // 255 - K
            for c in 0..<3 {
                let ink = 255 - Int(cmyk[p * 4 + c])
                let t = ink * notBlack + 128
                let covered = ((t >> 8) + t) >> 8  // round(ink * notBlack / 255), as Pillow's MULDIV255
                rgb[p * 3 + c] = UInt8(clamping: notBlack - covered)
            }
        }
        return rgb
    }

    /// Chroma is subsampled 4:2:0 below quality 90, where its loss is hidden by the
    /// quantisation anyway, and kept at full resolution (4:4:4) from 90 up, where users ask
    /// for fidelity and halved chroma would blur thin colored edges (GAN outputs have many).
    /// Alpha cannot be stored in JPEG and is dropped (not composited). Gray stays 1 channel.
    static func encode(_ image: EncodableImage, quality: Int) throws(ImageFailure) -> Data {
        guard image.width <= 65_535, image.height <= 65_535 else {
            throw ImageFailure(.tooLarge, "\(image.width)×\(image.height) is larger than JPEG allows (65535 per side)")
        }
        guard let handle = tjInitCompress() else { throw ImageFailure(.corrupt, "could not start the JPEG encoder") }
        defer { tjDestroy(handle) }
        var source = image.samples
        let pixelFormat: TJPF
        let subsampling: TJSAMP
        if image.colorChannels == 1 {
            if image.hasAlpha { source = stride(from: 0, to: source.count, by: 2).map { source[$0] } }
            pixelFormat = TJPF_GRAY
            subsampling = TJSAMP_GRAY
        } else {
            pixelFormat = image.hasAlpha ? TJPF_RGBA : TJPF_RGB  // TurboJPEG ignores the A byte
            subsampling = quality >= 90 ? TJSAMP_444 : TJSAMP_420
        }
        var output: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        defer { if let output { tjFree(output) } }
        let status = source.withUnsafeBufferPointer { src in
            tjCompress2(
                handle, src.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(pixelFormat.rawValue),
                &output, &size, Int32(subsampling.rawValue), Int32(quality), TJFLAG_ACCURATEDCT)
        }
        guard status == 0, let output else {
            throw ImageFailure(.corrupt, "could not encode JPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        let jpeg = Data(bytes: output, count: Int(size))
        guard let profile = image.iccProfile, !profile.isEmpty else { return jpeg }
        return try JPEGMarkers.embed(profile, in: jpeg)
    }
}
