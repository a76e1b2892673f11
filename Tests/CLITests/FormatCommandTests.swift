import Foundation
import Imaging
import Testing
import TestSupport

/// TIFF and WebP through `gantry convert` as a user meets them, and formats Gantry does not read
/// named instead of hidden.
struct FormatCommandTests {
    static let imagingFixtures = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("ImagingTests/Fixtures")

    func convert(_ input: String, _ output: String, _ extra: [String] = []) throws -> CommandResult {
        try ConvertCommandTests().convert(input, output, extra)
    }

    func decoded(_ path: String) throws -> DecodedImage { try ConvertCommandTests().decode(path) }

    /// Each output file is written in the format its name says, from inputs of every format.
    @Test func outputFollowsTheExtension() throws {
        let dir = try TemporaryDirectory()
        let image = TestImages.pattern(width: 24, height: 20, alpha: true)
        try dir.write("photo.webp", ImageCodec.encode(image, as: .webp, quality: 90, path: "photo.webp"))
        try dir.write("photo.tif", ImageCodec.encode(image, as: .tiff, path: "photo.tif"))
        for input in ["photo.webp", "photo.tif"] {
            for out in ["out.png", "out.jpg", "out.tif", "out.tiff", "out.webp"] {
                let target = dir.path("\(input)-\(out)")
                let r = try convert(dir.path(input), target)
                #expect(r.status == 0, "\(input) → \(out): \(r.stderr)")
                let d = try decoded(target)
                let ext = (out as NSString).pathExtension
                #expect(d.format == ImageFormat(fileExtension: ext), "\(input) → \(out) is \(d.format)")
                #expect((d.width, d.height) == (24, 20))
                // Alpha comes back where the format keeps it.
                #expect(d.hasAlpha == (ext != "jpg"), "\(input) → \(out)")
            }
        }
    }

    /// `--format` for folders, `same` keeping TIFF and WebP, `--lossless` WebP.
    @Test func folderFormatsAndLosslessWebP() throws {
        let dir = try TemporaryDirectory()
        let image = TestImages.pattern(width: 16, height: 16)
        try dir.write("in/a.tiff", ImageCodec.encode(image, as: .tiff, path: "a.tiff"))
        try dir.write("in/b.webp", ImageCodec.encode(image, as: .webp, path: "b.webp"))
        try dir.write("in/c.png", ImageCodec.encode(image, as: .png, path: "c.png"))
        let same = try convert(dir.path("in"), dir.path("same"), ["--format", "same"])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path("same"))) == ["a.tiff", "b.webp", "c.png"])
        let webp = try convert(dir.path("in"), dir.path("webp"), ["--format", "webp", "--lossless"])
        #expect(webp.status == 0, "\(webp.stderr)")
        let png = try convert(dir.path("in"), dir.path("png"))
        for name in ["a", "b", "c"] {
            // Lossless WebP holds exactly the pixels convert writes as PNG.
            let w = try decoded(dir.path("webp/\(name).webp")), p = try decoded(dir.path("png/\(name).png"))
            #expect(w.format == .webp && w.samples == p.samples, "\(name)")
        }
        #expect(png.status == 0)
        let jpegLossless = try convert(dir.path("in"), dir.path("j"), ["--format", "jpg", "--lossless"])
        #expect(jpegLossless.status == 64 && jpegLossless.stderr.contains("lossless"), "\(jpegLossless.stderr)")
    }

    @Test func multiPageTIFFConvertsItsFirstPageWithANote() throws {
        let dir = try TemporaryDirectory()
        let r = try convert(Self.imagingFixtures.appendingPathComponent("tiff_multipage.tif").path, dir.path("out.png"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: ") && r.stderr.contains("pages): converted the first page"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path("out.png")))
    }

    /// The new user's case of issue 30: a .bmp named on the command line is an error that names
    /// its format and the ones Gantry reads; in a folder such files are counted by format, and
    /// a text file stays a quiet skip.
    @Test func formatsGantryDoesNotReadAreNamed() throws {
        let dir = try TemporaryDirectory()
        try dir.write("photo.bmp", Data("BM".utf8) + Data(count: 60))
        let single = try convert(dir.path("photo.bmp"), dir.path("out.png"))
        #expect(single.status == 1, "\(single.stderr)")
        #expect(single.stderr.split(separator: "\n").count == 1 && single.stderr.contains("BMP is not a format Gantry reads")
                && single.stderr.contains("PNG, JPEG, TIFF and WebP"), "\(single.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out.png")))

        try dir.write("in/a.bmp", Data("BM".utf8) + Data(count: 60))
        try dir.write("in/b.heic", Data(count: 64))
        try dir.write("in/notes.txt", "text")
        try dir.write("in/ok.png", TestImages.png(width: 16, height: 16))
        let folder = try convert(dir.path("in"), dir.path("out"))
        #expect(folder.status == 0, "\(folder.stderr)")
        #expect(folder.stderr.contains("1 converted, 0 skipped, 0 failed"), "\(folder.stderr)")
        #expect(folder.stderr.contains("2 files in formats Gantry does not read: .bmp ×1, .heic ×1"), "\(folder.stderr)")
        #expect(folder.stderr.contains("1 non-image files ignored"), "\(folder.stderr)")
    }

    /// An output named with an image extension Gantry cannot write is refused, not made a folder.
    @Test func unwritableOutputExtensionIsAnError() throws {
        let dir = try TemporaryDirectory()
        try dir.write("photo.png", TestImages.png(width: 16, height: 16))
        for name in ["out.bmp", "out.gif", "out.heic"] {
            let r = try convert(dir.path("photo.png"), dir.path(name))
            #expect(r.status == 64 && r.stderr.contains("cannot write"), "\(name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path(name)), "\(name) was created")
        }
    }

    /// A 16-bit source stays 16-bit where the output format can hold it (TIFF, PNG without
    /// alpha), with the 8-bit output's values to within rounding.
    @Test func sixteenBitStaysSixteenBit() throws {
        let dir = try TemporaryDirectory()
        for fixture in ["tiff_rgb16.tif", "tiff_gray16.tif", "png_rgb16.png"] {
            let source = Self.imagingFixtures.appendingPathComponent(fixture)
            guard FileManager.default.fileExists(atPath: source.path) else { continue }
            var outputs: [String: DecodedImage] = [:]
            for ext in ["tif", "png", "jpg"] {
                let target = dir.path("\(fixture).\(ext)")
                let r = try convert(source.path, target)
                #expect(r.status == 0, "\(fixture) → .\(ext): \(r.stderr)")
                outputs[ext] = try decoded(target)
            }
            let eight = try #require(outputs["jpg"]).samples
            #expect(outputs["jpg"]?.bitDepth == 8)
            for ext in ["tif", "png"] {
                let d = try #require(outputs[ext])
                #expect(d.bitDepth == 16, "\(fixture) → .\(ext) has \(d.bitDepth) bits")
                // Both are the same network output: 16-bit values /257 within one level of the
                // 8-bit ones (JPEG's own loss aside, checked against the PNG-through-8-bit path below).
                #expect(d.samples.count == eight.count)
            }
            let tif = try #require(outputs["tif"]), png = try #require(outputs["png"])
            #expect(tif.samples == png.samples, "\(fixture): TIFF and PNG hold the same 16-bit values")
            // The 8-bit PNG of the same conversion, for the rounding check.
            let low = dir.path("\(fixture).8bit.webp")
            #expect(try convert(source.path, low, ["--lossless"]).status == 0)
            let low8 = try decoded(low)
            let worst = zip(tif.samples, low8.colorChannels == tif.colorChannels ? low8.samples : low8.samples)
                .map { abs(Int($0) - Int($1) * 257) }.max() ?? 0
            if low8.colorChannels == tif.colorChannels { #expect(worst <= 257, "\(fixture): 16-bit vs 8-bit differ by \(worst)") }
        }
    }
}
