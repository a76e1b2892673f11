import Foundation
@testable import Imaging
import Testing

/// 16-bit samples (`EncodableImage.samples16`) written by TIFF and PNG come back exactly; PNG's
/// are labelled sRGB, not the linear light libpng's simplified API assumes for 16 bits.
struct SixteenBitEncodeTests {
    static func image(channels: Int, alpha: Bool) -> EncodableImage {
        let (w, h) = (13, 7)
        let count = w * h * (channels + (alpha ? 1 : 0))
        let wide = (0..<count).map { UInt16(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        return EncodableImage(width: w, height: h, colorChannels: channels, hasAlpha: alpha,
                              samples: wide.map { UInt8((UInt32($0) * 255 + 32767) / 65535) }, samples16: wide)
    }

    @Test(arguments: [(1, false), (3, false), (1, true), (3, true)])
    func tiffKeepsSixteenBits(_ channels: Int, _ alpha: Bool) throws {
        let img = Self.image(channels: channels, alpha: alpha)
        let d = try ImageCodec.decode(try ImageCodec.encode(img, as: .tiff, path: "x.tif"), path: "x.tif")
        #expect(d.bitDepth == 16 && d.samples == img.samples16!)
    }

    @Test(arguments: [1, 3])
    func pngKeepsSixteenBitsLabelledSRGB(_ channels: Int) throws {
        let img = Self.image(channels: channels, alpha: false)
        let data = try ImageCodec.encode(img, as: .png, path: "x.png")
        let d = try ImageCodec.decode(data, path: "x.png")
        #expect(d.bitDepth == 16 && d.samples == img.samples16!)
        let types = try PNGChunks.walk(Bytes(data), headerOnly: false).chunks.map(\.type)
        #expect(types.contains("sRGB") && !types.contains("gAMA") && !types.contains("cHRM"), "\(types)")
        // With a profile, iCCP replaces sRGB.
        var withProfile = img
        withProfile.iccProfile = Data(repeating: 7, count: 200)
        let typed = try PNGChunks.walk(Bytes(try ImageCodec.encode(withProfile, as: .png, path: "y.png")), headerOnly: false).chunks.map(\.type)
        #expect(typed.contains("iCCP") && !typed.contains("sRGB") && !typed.contains("gAMA"), "\(typed)")
    }

    /// PNG with alpha, JPEG and WebP write the 8-bit samples.
    @Test func otherFormatsWriteEightBits() throws {
        let img = Self.image(channels: 3, alpha: true)
        let png = try ImageCodec.decode(try ImageCodec.encode(img, as: .png, path: "a.png"), path: "a.png")
        #expect(png.bitDepth == 8 && png.samples == img.samples.map(UInt16.init))
        let webp = try ImageCodec.decode(try ImageCodec.encode(img, as: .webp, lossless: true, path: "a.webp"), path: "a.webp")
        #expect(webp.bitDepth == 8)
        var broken = img
        broken.samples16 = [1, 2, 3]
        #expect(throws: ImageError.self) { try ImageCodec.encode(broken, as: .tiff, path: "b.tif") }
    }
}
