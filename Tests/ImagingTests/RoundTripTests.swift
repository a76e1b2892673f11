import Foundation
import Imaging
import Testing

/// encode → decode: PNG exact, JPEG close, ICC and alpha carried over (TIFF and WebP: TIFFWebPTests).
@Suite struct RoundTripTests {
    static let layouts = [(1, false), (1, true), (3, false), (3, true)]

    @Test(arguments: layouts)
    func pngIsLossless(colorChannels: Int, hasAlpha: Bool) throws {
        let channels = colorChannels + (hasAlpha ? 1 : 0)
        let samples = pattern(width: 13, height: 7, channels: channels)
        let image = EncodableImage(width: 13, height: 7, colorChannels: colorChannels, hasAlpha: hasAlpha, samples: samples)
        let data = try ImageCodec.encode(image, as: .png, path: "out.png")
        let back = try ImageCodec.decode(data, path: "out.png")
        #expect(back.format == .png)
        #expect(back.colorChannels == colorChannels && back.hasAlpha == hasAlpha && back.bitDepth == 8)
        #expect(back.samples == samples.map(UInt16.init))
        #expect(back.iccProfile == nil)
    }

    @Test(arguments: [(3, false, 95), (3, false, 75), (1, false, 90), (3, true, 92), (1, true, 80)])
    func jpegIsClose(colorChannels: Int, hasAlpha: Bool, quality: Int) throws {
        let channels = colorChannels + (hasAlpha ? 1 : 0)
        let samples = smoothPattern(width: 32, height: 24, channels: channels)
        let image = EncodableImage(width: 32, height: 24, colorChannels: colorChannels, hasAlpha: hasAlpha, samples: samples)
        let data = try ImageCodec.encode(image, as: .jpeg, quality: quality, path: "out.jpg")
        let back = try ImageCodec.decode(data, path: "out.jpg")
        #expect(back.format == .jpeg && back.colorChannels == colorChannels && !back.hasAlpha)
        // Alpha is dropped, so compare with the color samples only.
        let colorOnly = stride(from: 0, to: samples.count, by: channels).flatMap { samples[$0..<($0 + colorChannels)] }
        #expect(maxDifference(back.samples, colorOnly) <= 12, "quality \(quality)")
    }

    @Test func jpegSubsamplingFollowsQuality() throws {
        let image = EncodableImage(
            width: 16, height: 16, colorChannels: 3, hasAlpha: false, samples: pattern(width: 16, height: 16, channels: 3))
        for (quality, factor) in [(89, 0x22), (90, 0x11), (100, 0x11), (1, 0x22)] {
            let data = [UInt8](try ImageCodec.encode(image, as: .jpeg, quality: quality, path: "q"))
            // SOF0: FF C0, length, precision, height, width, count, then (id, sampling, table) of Y.
            let sof = try #require((0..<(data.count - 1)).first { data[$0] == 0xFF && data[$0 + 1] == 0xC0 })
            #expect(data[sof + 11] == factor, "quality \(quality)")
        }
    }

    @Test(arguments: ImageFormat.allCases)
    func iccProfileSurvives(_ format: ImageFormat) throws {
        let profile = try Fixtures.data("srgb.icc")
        let image = EncodableImage(
            width: 9, height: 5, colorChannels: 3, hasAlpha: false, samples: smoothPattern(width: 9, height: 5, channels: 3),
            iccProfile: profile)
        let data = try ImageCodec.encode(image, as: format, path: "icc")
        let back = try ImageCodec.decode(data, path: "icc")
        #expect(back.iccProfile == profile)
    }

    /// A profile bigger than one APP2 segment is split and reassembled in order.
    @Test func largeIccProfileIsSplitAcrossSegments() throws {
        var profile = try Fixtures.data("srgb.icc")
        while profile.count < 150_000 { profile.append(UInt8(truncatingIfNeeded: profile.count * 31)) }
        let image = EncodableImage(
            width: 4, height: 4, colorChannels: 1, hasAlpha: false, samples: [UInt8](repeating: 90, count: 16),
            iccProfile: profile)
        let jpeg = try ImageCodec.encode(image, as: .jpeg, path: "big.jpg")
        let segments = [UInt8](jpeg).indices.dropLast().filter { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xE2 }
        #expect(segments.count == 3)
        // TurboJPEG writes SOI then JFIF APP0, which must stay first; the profile follows it.
        #expect(jpeg[2] == 0xFF && jpeg[3] == 0xE0)
        #expect(segments.first == 4 + (Int(jpeg[4]) << 8 | Int(jpeg[5])))
        #expect(try ImageCodec.decode(jpeg, path: "big.jpg").iccProfile == profile)
        let png = try ImageCodec.encode(image, as: .png, path: "big.png")
        #expect(try ImageCodec.decode(png, path: "big.png").iccProfile == profile)
    }

    /// iCCP goes right after IHDR, and the sRGB chunk libpng writes is gone.
    @Test func pngProfileChunkPlacement() throws {
        let profile = try Fixtures.data("srgb.icc")
        let image = EncodableImage(width: 2, height: 2, colorChannels: 1, hasAlpha: false, samples: [1, 2, 3, 4], iccProfile: profile)
        let bytes = [UInt8](try ImageCodec.encode(image, as: .png, path: "p.png"))
        #expect(String(decoding: bytes[37..<41], as: UTF8.self) == "iCCP")
        #expect(!String(decoding: bytes, as: UTF8.self).contains("sRGB"))
        let plain = [UInt8](try ImageCodec.encode(
            EncodableImage(width: 2, height: 2, colorChannels: 1, hasAlpha: false, samples: [1, 2, 3, 4]), as: .png, path: "p"))
        #expect(String(decoding: plain, as: UTF8.self).contains("sRGB"))
    }

    @Test func decodedImagesReEncode() throws {
        let decoded = try ImageCodec.decode(try Fixtures.data("png_rgba8.png"), path: "in")
        let image = EncodableImage(
            width: decoded.width, height: decoded.height, colorChannels: decoded.colorChannels, hasAlpha: decoded.hasAlpha,
            samples: decoded.samples.map { UInt8($0) }, iccProfile: decoded.iccProfile)
        let again = try ImageCodec.decode(try ImageCodec.encode(image, as: .png, path: "out"), path: "out")
        #expect(again.samples == decoded.samples)
    }

    @Test func encodeRejectsInconsistentImages() {
        let bad = [
            EncodableImage(width: 2, height: 2, colorChannels: 3, hasAlpha: false, samples: [1, 2, 3]),
            EncodableImage(width: 0, height: 2, colorChannels: 1, hasAlpha: false, samples: []),
            EncodableImage(width: 1, height: 1, colorChannels: 2, hasAlpha: false, samples: [1, 2]),
        ]
        for image in bad {
            for format in ImageFormat.allCases {
                let error = imageError { try ImageCodec.encode(image, as: format, path: "o") }
                #expect(error?.code == .invalidSize)
            }
        }
        let wide = EncodableImage(width: 70_000, height: 1, colorChannels: 1, hasAlpha: false, samples: [UInt8](repeating: 0, count: 70_000))
        #expect(imageError { try ImageCodec.encode(wide, as: .jpeg, path: "o") }?.code == .tooLarge)
    }
}
