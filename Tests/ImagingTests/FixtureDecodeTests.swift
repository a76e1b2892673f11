import Foundation
import Imaging
import Testing

/// Every good fixture decodes to what Pillow (or the stored 16-bit values) says.
@Suite struct FixtureDecodeTests {
    @Test func fixturesArePresent() {
        #expect(Fixtures.goodNames.count >= 70)
        #expect(Fixtures.badNames.count >= 35)
    }

    @Test(arguments: Fixtures.goodNames)
    func decodesLikePillow(_ name: String) throws {
        let expected = try #require(Fixtures.expected?.good[name])
        let image = try ImageCodec.decode(try Fixtures.data(name), path: name)
        #expect(image.format.rawValue == expected.format)
        #expect(image.width == expected.width)
        #expect(image.height == expected.height)
        #expect(image.colorChannels == expected.colorChannels)
        #expect(image.hasAlpha == expected.hasAlpha)
        #expect(image.bitDepth == expected.bitDepth)
        #expect(image.orientation == expected.orientation)
        #expect((image.iccProfile != nil) == expected.hasICC)
        #expect(image.pageCount == expected.pageCount ?? 1)
        try #require(image.samples.count == expected.samples.count)
        let worst = zip(image.samples, expected.samples).map { abs(Int($0) - $1) }.max() ?? 0
        #expect(worst <= expected.tolerance, "largest difference from Pillow: \(worst)")
    }

    @Test(arguments: Fixtures.goodNames)
    func headerAgreesWithDecode(_ name: String) throws {
        let data = try Fixtures.data(name)
        let header = try ImageCodec.readHeader(data, path: name)
        let image = try ImageCodec.decode(data, path: name)
        #expect(header.format == image.format)
        #expect(header.colorChannels == image.colorChannels)
        #expect(header.hasAlpha == image.hasAlpha)
        #expect(header.orientation == image.orientation)
        #expect(header.pageCount == image.pageCount)
        let swapped = header.orientation >= 5
        #expect((swapped ? header.height : header.width) == image.width)
        #expect((swapped ? header.width : header.height) == image.height)
        // 16-bit gray+alpha and RGBA are the one case where the decode is narrower.
        #expect(header.bitDepth == image.bitDepth || (header.bitDepth == 16 && image.hasAlpha))
    }

    @Test func sixteenBitValuesSurviveColorspaceChunks() throws {
        let plain = try ImageCodec.decode(try Fixtures.data("png_gray16.png"), path: "plain")
        let tagged = try ImageCodec.decode(try Fixtures.data("png_gray16_srgb_chunks.png"), path: "tagged")
        #expect(plain.bitDepth == 16)
        #expect(plain.samples == tagged.samples)
        #expect(plain.samples.contains { $0 & 0xFF != 0 }, "low bytes must be kept")
    }

    @Test func iccProfilesAreTheEmbeddedBytes() throws {
        let srgb = try Fixtures.data("srgb.icc")
        for name in ["jpeg_icc.jpg", "png_icc.png", "tiff_icc.tif", "webp_icc.webp"] {
            let image = try ImageCodec.decode(try Fixtures.data(name), path: name)
            #expect(image.iccProfile == srgb, "\(name)")
        }
    }

    @Test func exifOrientationSwapsSides() throws {
        for orientation in 1...8 {
            let name = "jpeg_orientation_\(orientation).jpg"
            let header = try ImageCodec.readHeader(try Fixtures.data(name), path: name)
            let image = try ImageCodec.decode(try Fixtures.data(name), path: name)
            #expect(header.width == 24 && header.height == 16)
            #expect(header.orientation == orientation)
            #expect(image.width == (orientation >= 5 ? 16 : 24), "orientation \(orientation)")
        }
    }

    @Test func decodeFileReadsFromDisk() throws {
        let image = try ImageCodec.decodeFile(atPath: Fixtures.url("png_rgb8.png").path)
        #expect(image.width == 13 && image.height == 7)
        let missing = Fixtures.url("no-such-file.png").path
        let error = try #require(imageError { try ImageCodec.decodeFile(atPath: missing) })
        #expect(error.code == .unreadable)
        #expect(error.description.hasPrefix(missing + ": "))
    }
}
