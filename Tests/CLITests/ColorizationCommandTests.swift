import Foundation
import Imaging
import Testing
import TestSupport

/// `gantry convert` on a colorization checkpoint (L in, ab out) against the reference test flow
/// (tools/fixtures/make_colorization_fixtures.py): the input's own L with the predicted ab, back
/// to RGB with skimage's lab2rgb and tensor2im's truncation — every value within one level.
struct ColorizationCommandTests {
    static let folder = fixturesDirectory.appendingPathComponent("convert")
    static let model = folder.appendingPathComponent("colorization_unet5.pth").path

    @Test func convertMatchesTheReferenceTestFlow() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/colour_96x64.png", Data(contentsOf: Self.folder.appendingPathComponent("colour_96x64.png")))
        let r = try runGantry(["convert", dir.path("in"), "-m", Self.model, "-o", dir.path("out"), "--preprocess", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        let got = try ImageCodec.decodeFile(atPath: dir.path("out/colour_96x64.png"))
        let expected = try ImageCodec.decodeFile(atPath: Self.folder.appendingPathComponent("colorization_none.png").path)
        try #require((got.width, got.height, got.colorChannels) == (expected.width, expected.height, 3))
        let diffs = zip(got.samples, expected.samples).map { abs(Int($0) - Int($1)) }
        let off = diffs.filter { $0 > 0 }.count
        print("colorization: \(off) of \(diffs.count) values off, by at most \(diffs.max() ?? 0)")
        #expect(diffs.max()! <= 1 && Double(off) <= 0.01 * Double(diffs.count), "\(off) values differ, worst \(diffs.max()!)")
    }

    /// `--gamut keep-lightness`: the fixture model predicts colours far outside sRGB, which the
    /// reference's clipping lets change L*; kept, every pixel's L* stays the input's (8-bit
    /// rounding and truncation aside: within 1).
    @Test func keepingLightnessKeepsEveryPixelsLightness() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/colour_96x64.png", Data(contentsOf: Self.folder.appendingPathComponent("colour_96x64.png")))
        func lightnessOff(_ flags: [String]) throws -> (over: Int, worst: Double) {
            let out = dir.path("out\(flags.count)")
            let r = try runGantry(["convert", dir.path("in"), "-m", Self.model, "-o", out] + flags)
            #expect(r.status == 0, "\(r.stderr)")
            let input = try ImageCodec.decodeFile(atPath: dir.path("in/colour_96x64.png"))
            let output = try ImageCodec.decodeFile(atPath: "\(out)/colour_96x64.png")
            var (over, worst) = (0, 0.0)
            for i in 0..<(input.width * input.height) {
                func l(_ im: DecodedImage) -> Double {
                    CIELab.fromRGB(Double(im.samples[3 * i]) / 255, Double(im.samples[3 * i + 1]) / 255, Double(im.samples[3 * i + 2]) / 255).l
                }
                let d = abs(l(output) - l(input))
                worst = max(worst, d)
                if d > 1 { over += 1 }
            }
            return (over, worst)
        }
        let clipped = try lightnessOff([])
        let kept = try lightnessOff(["--gamut", "keep-lightness"])
        print("L* off by more than 1: \(clipped.over) pixels clipped (worst \(clipped.worst)), \(kept.over) kept (worst \(kept.worst))")
        #expect(clipped.over > 100, "the fixture's colours leave sRGB, so clipping moves L*")
        #expect(kept.over == 0)
    }

    /// `gantry watch` runs the same conversion: a dropped photo comes out as convert writes it.
    @Test func watchColourisesADroppedPhoto() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let log = URL(fileURLWithPath: dir.path("watch.log"))
        let process = Process()
        process.executableURL = gantryExecutable
        process.arguments = ["watch", dir.path("in"), "-o", dir.path("out"), "-m", Self.model, "--preprocess", "none",
                             "--settle", "0.5", "--rescan", "1"]
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        (process.standardOutput, process.standardError) = (handle, handle)
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) }; process.waitUntilExit() }
        try dir.write("in/colour_96x64.png", Data(contentsOf: Self.folder.appendingPathComponent("colour_96x64.png")))
        let out = dir.path("out/colour_96x64.png")
        let done = WatchCommandTests.waitUntil(60) { FileManager.default.fileExists(atPath: out) }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        try #require(done, "no output; log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let got = try ImageCodec.decodeFile(atPath: out)
        let expected = try ImageCodec.decodeFile(atPath: Self.folder.appendingPathComponent("colorization_none.png").path)
        #expect(got.samples.count == expected.samples.count)
        #expect(zip(got.samples, expected.samples).allSatisfy { abs(Int($0) - Int($1)) <= 1 })
    }

    /// Alpha is carried through; a grey input is coloured (L from grey repeated, as
    /// convert('RGB')); a 16-bit input converts at its size.
    @Test func alphaGreyAndSixteenBitInputs() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/rgba.png", try TestImages.png(width: 64, height: 32, alpha: true, seed: 3))
        try dir.write("in/grey.png", try TestImages.png(width: 64, height: 32, channels: 1, seed: 4))
        let deep = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("ImagingTests/Fixtures/png_rgb16.png")
        try dir.write("in/deep.png", Data(contentsOf: deep))
        let r = try runGantry(["convert", dir.path("in"), "-m", Self.model, "-o", dir.path("out")])
        #expect(r.status == 0, "\(r.stderr)")
        let input = try ImageCodec.decodeFile(atPath: dir.path("in/rgba.png"))
        let output = try ImageCodec.decodeFile(atPath: dir.path("out/rgba.png"))
        #expect(output.hasAlpha && output.colorChannels == 3)
        #expect(stride(from: 3, to: input.samples.count, by: 4).map { input.samples[$0] }
                == stride(from: 3, to: output.samples.count, by: 4).map { output.samples[$0] })
        for name in ["grey.png", "deep.png"] {
            let source = try ImageCodec.decodeFile(atPath: dir.path("in/\(name)"))
            let out = try ImageCodec.decodeFile(atPath: dir.path("out/\(name)"))
            #expect(out.colorChannels == 3 && (out.width, out.height) == (source.width, source.height), "\(name)")
        }
    }

    @Test func inspectNamesTheColorizationModel() throws {
        let r = try runGantry(["inspect", Self.model])
        #expect(r.status == 0 && r.stdout.contains("colorization"), "\(r.stdout)\(r.stderr)")
    }
}
