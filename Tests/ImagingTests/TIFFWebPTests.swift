import Foundation
import Imaging
import Testing

/// TIFF and WebP beyond the Pillow fixtures: encode → decode, the encoder's choices, the
/// lossless switch, pages, animations and damaged files.
@Suite struct TIFFWebPTests {
    static let layouts = [(1, false), (1, true), (3, false), (3, true)]

    @Test(arguments: layouts)
    func tiffIsLossless(colorChannels: Int, hasAlpha: Bool) throws {
        let channels = colorChannels + (hasAlpha ? 1 : 0)
        // Tall enough for several ~8 KB strips.
        let samples = pattern(width: 61, height: 150, channels: channels)
        let image = EncodableImage(width: 61, height: 150, colorChannels: colorChannels, hasAlpha: hasAlpha, samples: samples)
        let data = try ImageCodec.encode(image, as: .tiff, path: "out.tif")
        let back = try ImageCodec.decode(data, path: "out.tif")
        #expect(back.format == .tiff && back.pageCount == 1)
        #expect(back.colorChannels == colorChannels && back.hasAlpha == hasAlpha && back.bitDepth == 8)
        #expect(back.samples == samples.map(UInt16.init))
    }

    /// Deflate (8) with the horizontal predictor (2), alpha unassociated (2), little-endian classic TIFF.
    @Test func tiffEncoderWritesDeflateWithPredictor() throws {
        let image = EncodableImage(width: 5, height: 3, colorChannels: 3, hasAlpha: true, samples: pattern(width: 5, height: 3, channels: 4))
        let tags = try classicTags([UInt8](try ImageCodec.encode(image, as: .tiff, path: "t.tif")))
        #expect(tags[259] == 8, "Compression")
        #expect(tags[317] == 2, "Predictor")
        #expect(tags[338] == 2, "ExtraSamples")
        #expect(tags[277] == 4, "SamplesPerPixel")
    }

    @Test(arguments: layouts)
    func losslessWebPIsExact(colorChannels: Int, hasAlpha: Bool) throws {
        let channels = colorChannels + (hasAlpha ? 1 : 0)
        var samples = pattern(width: 23, height: 11, channels: channels)
        // Colors under fully transparent pixels are kept too (libwebp's `exact`).
        if hasAlpha { for p in stride(from: channels - 1, to: samples.count, by: channels * 3) { samples[p] = 0 } }
        let image = EncodableImage(width: 23, height: 11, colorChannels: colorChannels, hasAlpha: hasAlpha, samples: samples)
        let data = try ImageCodec.encode(image, as: .webp, quality: 10, lossless: true, path: "out.webp")
        let back = try ImageCodec.decode(data, path: "out.webp")
        #expect(back.format == .webp && back.colorChannels == 3 && back.hasAlpha == hasAlpha && back.bitDepth == 8)
        // WebP has no gray: gray comes back as R = G = B.
        #expect(back.samples == expandedToRGB(samples, colorChannels: colorChannels, hasAlpha: hasAlpha).map(UInt16.init))
    }

    /// Lossy WebP: the smooth pattern within 32 dB PSNR at quality 75 and 38 dB at 95; alpha
    /// is coded losslessly beside the lossy colors.
    @Test(arguments: [(75, 32.0), (95, 38.0)])
    func lossyWebPIsClose(quality: Int, minimumPSNR: Double) throws {
        let samples = smoothPattern(width: 48, height: 32, channels: 4)
        let image = EncodableImage(width: 48, height: 32, colorChannels: 3, hasAlpha: true, samples: samples)
        let back = try ImageCodec.decode(try ImageCodec.encode(image, as: .webp, quality: quality, path: "o.webp"), path: "o.webp")
        let color = samples.enumerated().filter { $0.offset % 4 != 3 }.map(\.element)
        let decodedColor = back.samples.enumerated().filter { $0.offset % 4 != 3 }.map(\.element)
        #expect(psnr(decodedColor, color) >= minimumPSNR, "quality \(quality): \(psnr(decodedColor, color)) dB")
        #expect(stride(from: 3, to: samples.count, by: 4).allSatisfy { back.samples[$0] == UInt16(samples[$0]) })
    }

    @Test func webpQualityAndLosslessChangeTheFile() throws {
        let image = EncodableImage(width: 40, height: 30, colorChannels: 3, hasAlpha: false, samples: pattern(width: 40, height: 30, channels: 3))
        let low = try ImageCodec.encode(image, as: .webp, quality: 20, path: "o")
        let high = try ImageCodec.encode(image, as: .webp, quality: 95, path: "o")
        let lossless = try ImageCodec.encode(image, as: .webp, lossless: true, path: "o")
        #expect(low.count < high.count)
        // The bitstream chunk right after the RIFF header: "VP8 " lossy, "VP8L" lossless.
        #expect(String(decoding: high[12..<16], as: UTF8.self) == "VP8 ")
        #expect(String(decoding: lossless[12..<16], as: UTF8.self) == "VP8L")
    }

    @Test func losslessJPEGIsRefused() throws {
        let image = EncodableImage(width: 2, height: 2, colorChannels: 1, hasAlpha: false, samples: [1, 2, 3, 4])
        let error = try #require(imageError { try ImageCodec.encode(image, as: .jpeg, lossless: true, path: "o.jpg") })
        #expect(error.code == .unsupportedFormat && error.message.contains("lossless"), "\(error)")
        // PNG and TIFF are lossless anyway, so the switch changes nothing there.
        #expect(try ImageCodec.encode(image, as: .png, lossless: true, path: "o") == ImageCodec.encode(image, as: .png, path: "o"))
    }

    @Test func webpSidesAreBounded() {
        let wide = EncodableImage(width: 16_384, height: 1, colorChannels: 1, hasAlpha: false, samples: [UInt8](repeating: 9, count: 16_384))
        #expect(imageError { try ImageCodec.encode(wide, as: .webp, path: "o") }?.code == .tooLarge)
    }

    @Test func multiPageTIFFReportsItsPages() throws {
        let data = try Fixtures.data("tiff_multipage.tif")
        #expect(try ImageCodec.readHeader(data, path: "m.tif").pageCount == 3)
        let image = try ImageCodec.decode(data, path: "m.tif")
        #expect(image.pageCount == 3)
        #expect(try ImageCodec.decode(try Fixtures.data("tiff_rgb8.tif"), path: "one").pageCount == 1)
    }

    @Test func animatedWebPIsRefusedInOneLine() throws {
        let data = try Fixtures.data("webp_animated.webp")
        for call in [{ _ = try ImageCodec.readHeader(data, path: "a.webp") }, { _ = try ImageCodec.decode(data, path: "a.webp") }] {
            let error = try #require(imageError(call))
            #expect(error.code == .unsupportedFormat)
            #expect(error.message.hasPrefix("animated WebP is not supported (2 frames"), "\(error)")
        }
    }

    @Test func compressionBombIsNamed() throws {
        let error = try #require(imageError { try ImageCodec.decode(try Fixtures.data("tiff_deflate_bomb.tif"), path: "b.tif") })
        #expect(error.code == .corrupt && error.message.contains("cannot hold 12000×12000"), "\(error)")
    }

    @Test func signaturePrefixesAreTruncatedFiles() {
        for (bytes, name) in [([0x49, 0x49, 0x2A], "TIFF"), ([0x4D, 0x4D], "TIFF"), (Array("RIFF\u{10}\0\0\0WE".utf8), "WebP")] {
            let error = imageError { try ImageCodec.readHeader(Data(bytes), path: "x") }
            #expect(error?.code == .truncated && error?.message.hasPrefix(name) == true, "\(String(describing: error))")
        }
        #expect(imageError { try ImageCodec.readHeader(Data("RIFF\u{10}\0\0\0WAVE".utf8), path: "x") }?.code == .notAnImage)
    }

    /// libtiff's errors are kept per handle: files failing on several threads at once each get
    /// their own message.
    @Test func concurrentFailuresKeepTheirOwnMessages() async throws {
        let names = ["tiff_truncated_strip.tif", "tiff_bad_strip_offset.tif", "tiff_truncated_ifd.tif", "tiff_zero_size.tif"]
        let inputs = try names.map { try Fixtures.data($0) }
        let alone = names.indices.map { i in imageError { try ImageCodec.decode(inputs[i], path: names[i]) }?.message }
        let together = await withTaskGroup(of: (Int, String?).self) { group in
            for round in 0..<(names.count * 16) {
                let i = round % names.count
                group.addTask { (i, (try? ImageCodec.decode(inputs[i], path: names[i])) == nil ? Self.message(inputs[i], names[i]) : nil) }
            }
            var out = [(Int, String?)]()
            for await result in group { out.append(result) }
            return out
        }
        for (i, message) in together { #expect(message == alone[i], "\(names[i])") }
    }

    static func message(_ data: Data, _ name: String) -> String? {
        do { _ = try ImageCodec.decode(data, path: name) } catch { return error.message }
        return nil
    }
}

/// The value of each tag of a little-endian classic TIFF's first IFD (first value only).
func classicTags(_ b: [UInt8]) throws -> [Int: Int] {
    try #require(b.count > 8 && b[0] == 0x49 && b[2] == 42)
    let u16 = { (o: Int) in Int(b[o]) | Int(b[o + 1]) << 8 }
    let u32 = { (o: Int) in u16(o) | u16(o + 2) << 16 }
    let ifd = u32(4)
    var tags = [Int: Int]()
    for i in 0..<u16(ifd) {
        let entry = ifd + 2 + i * 12
        tags[u16(entry)] = u16(entry + 2) == 3 ? u16(entry + 8) : u32(entry + 8)
    }
    return tags
}

func expandedToRGB(_ samples: [UInt8], colorChannels: Int, hasAlpha: Bool) -> [UInt8] {
    guard colorChannels == 1 else { return samples }
    let step = hasAlpha ? 2 : 1
    var out = [UInt8]()
    for i in stride(from: 0, to: samples.count, by: step) {
        out += [samples[i], samples[i], samples[i]]
        if hasAlpha { out.append(samples[i + 1]) }
    }
    return out
}

func psnr(_ a: [UInt16], _ b: [UInt8]) -> Double {
    let mse = zip(a, b).map { pow(Double(Int($0) - Int($1)), 2) }.reduce(0, +) / Double(b.count)
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}
