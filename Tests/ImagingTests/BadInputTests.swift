import Foundation
import Imaging
import Testing

/// Damaged, disguised and hostile files: one-line errors with the right code, never a crash.
@Suite struct BadInputTests {
    @Test(arguments: Fixtures.badNames)
    func badFileIsRefused(_ name: String) throws {
        let expected = try #require(Fixtures.expected?.bad[name])
        let path = "/photos/\(name)"
        let error = try #require(imageError { try ImageCodec.decode(try Fixtures.data(name), path: path) })
        #expect(error.code.rawValue == expected, "\(error)")
        #expect(error.path == path)
        #expect(error.description.hasPrefix(path + ": "))
        #expect(!error.description.contains("\n"))
        #expect(!error.message.isEmpty)
    }

    @Test func unsupportedFormatsAreNamed() throws {
        let names = ["gif_named.png": "GIF", "bmp_named.png": "BMP", "heic_named.jpg": "HEIC"]
        for (file, format) in names {
            let error = try #require(imageError { try ImageCodec.readHeader(try Fixtures.data(file), path: file) })
            #expect(error.code == .unsupportedFormat)
            #expect(error.message.contains(format), "\(error)")
        }
    }

    @Test func htmlIsRecognisedAsNotAnImage() throws {
        let error = try #require(imageError { try ImageCodec.decode(try Fixtures.data("html_named.jpg"), path: "a.jpg") })
        #expect(error.code == .notAnImage)
        #expect(error.message.contains("HTML"))
    }

    /// The bombs declare huge sizes but carry only a few bytes of image data. If the decoder
    /// went past the header it would report truncated/corrupt data (or try to allocate tens of
    /// GB); `tooLarge` with the declared size shows the header check refused them first.
    @Test(arguments: [("png_bomb.png", 100_000), ("jpeg_bomb.jpg", 65_000), ("tiff_bomb.tif", 100_000)])
    func bombsAreRefusedFromTheHeader(_ name: String, side: Int) throws {
        let data = try Fixtures.data(name)
        let header = try ImageCodec.readHeader(data, path: name)
        #expect(header.width == side && header.height == side)
        let error = try #require(imageError { try ImageCodec.decode(data, path: name) })
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("declares \(side)×\(side)"), "\(error)")
    }

    @Test func limitsAreConfigurable() throws {
        let data = try Fixtures.data("png_rgb8.png")
        let tight = DecodeLimits(maxPixels: 13 * 7 - 1)
        #expect(imageError { try ImageCodec.decode(data, path: "x", limits: tight) }?.code == .tooLarge)
        let narrow = DecodeLimits(maxSide: 12)
        #expect(imageError { try ImageCodec.decode(data, path: "x", limits: narrow) }?.code == .tooLarge)
        #expect(try ImageCodec.decode(data, path: "x", limits: DecodeLimits(maxPixels: 13 * 7, maxSide: 13)).width == 13)
    }

    @Test func messagesWithLineBreaksStayOnOneLine() {
        let error = ImageError(code: .corrupt, path: "a\nb.png", message: "line one\nline two\r\n")
        #expect(error.description == "a b.png: line one line two")
    }

    /// Every prefix of a good file fails cleanly (truncated or, for cuts that make a
    /// different valid-looking structure, corrupt), and none of them returns pixels.
    @Test(arguments: ["png_rgb8.png", "png_palette_trns.png", "jpeg_rgb_420.jpg", "jpeg_progressive.jpg",
                      "tiff_rgb8_deflate.tif", "tiff_tiled.tif", "tiff_planar.tif", "tiff_jpeg.tif",
                      "webp_lossy.webp", "webp_alpha_lossless.webp"])
    func everyPrefixFails(_ name: String) throws {
        let data = try Fixtures.data(name)
        for cut in 0..<data.count {
            let error = imageError { try ImageCodec.decode(data.prefix(cut), path: name) }
            let ok: Set<ImageError.Code> = cut == 0 ? [.empty] : [.truncated, .corrupt]
            #expect(error.map { ok.contains($0.code) } == true, "cut at \(cut): \(String(describing: error))")
        }
    }

    @Test func sniffingIgnoresTheExtension() throws {
        let png = try Fixtures.data("png_rgb8.png")
        #expect(try ImageCodec.readHeader(png, path: "photo.jpg").format == .png)
        let jpeg = try Fixtures.data("jpeg_gray.jpg")
        #expect(try ImageCodec.readHeader(jpeg, path: "photo.png").format == .jpeg)
        #expect(try ImageCodec.readHeader(try Fixtures.data("tiff_named.jpg"), path: "photo.jpg").format == .tiff)
        #expect(try ImageCodec.readHeader(try Fixtures.data("webp_named.jpg"), path: "photo.jpg").format == .webp)
    }
}
