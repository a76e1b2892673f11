import Foundation
import Imaging
import Testing
import TestSupport

/// The bundled sample model (`samples/models/colourise`, trained by `gantry train`) through the
/// README's first command, judged on the held-out photos of `samples/photos` (none of them was in
/// its training set) by what colourisation must achieve, not by snapshot bytes:
///
/// - **chroma error** (mean |ΔCb| + |ΔCr| against the original colour photo, BT.601, in levels)
///   below the trivial baseline's — the grey input, whose chroma is exactly neutral;
/// - **colourfulness** (Hasler & Süsstrunk 2003; a grey image scores 0) clearly above zero;
/// - **luma kept**: the output's brightness stays within a few levels of the grey input's, so the
///   model adds colour rather than repainting the photo.
struct SampleModelQualityTests {
    static let root = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()

    struct Planes {
        var y: [Double] = [], cb: [Double] = [], cr: [Double] = [], r: [Double] = [], g: [Double] = [], b: [Double] = []
    }

    static func planes(_ path: String) throws -> Planes {
        let image = try ImageCodec.decodeFile(atPath: path)
        let step = image.colorChannels + (image.hasAlpha ? 1 : 0)
        let scale = image.bitDepth == 16 ? 257.0 : 1.0
        var p = Planes()
        for i in 0..<(image.width * image.height) {
            let base = i * step
            let r = Double(image.samples[base]) / scale
            let g = Double(image.samples[base + (image.colorChannels == 3 ? 1 : 0)]) / scale
            let b = Double(image.samples[base + (image.colorChannels == 3 ? 2 : 0)]) / scale
            p.r.append(r); p.g.append(g); p.b.append(b)
            p.y.append(0.299 * r + 0.587 * g + 0.114 * b)
            p.cb.append(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)
            p.cr.append(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)
        }
        return p
    }

    static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }

    static func colourfulness(_ p: Planes) -> Double {
        let rg = zip(p.r, p.g).map { $0 - $1 }
        let yb = (0..<p.r.count).map { 0.5 * (p.r[$0] + p.g[$0]) - p.b[$0] }
        func std(_ v: [Double]) -> Double { let m = mean(v); return (mean(v.map { ($0 - m) * ($0 - m) })).squareRoot() }
        return (std(rg) * std(rg) + std(yb) * std(yb)).squareRoot() + 0.3 * (mean(rg) * mean(rg) + mean(yb) * mean(yb)).squareRoot()
    }

    @Test func theBundledModelColourisesHeldOutPhotos() throws {
        let dir = try TemporaryDirectory()
        // The README's first command, as a new user runs it.
        let r = try runGantry(["convert", Self.root.appendingPathComponent("samples/photos").path,
                               "--pipeline", Self.root.appendingPathComponent("pipelines/sample.yaml").path, "-o", dir.path("out")])
        #expect(r.status == 0, "\(r.stderr)")
        // grey_facade.jpg is grey to begin with: there is no colour to compare with.
        let photos = ["dune.jpg", "evening_glow.jpg", "forest_path.jpg", "ladybird.jpg", "storm.png"]
        var model: [Double] = [], baseline: [Double] = [], colour: [Double] = [], luma: [Double] = []
        for name in photos {
            let original = try Self.planes(Self.root.appendingPathComponent("samples/photos/\(name)").path)
            let stem = (name as NSString).deletingPathExtension
            let output = try Self.planes(dir.path("out/\(stem).png"))
            try #require(output.y.count == original.y.count, "\(name): output size differs")
            let n = Double(original.y.count)
            let error = (0..<original.y.count).reduce(0.0) { $0 + abs(output.cb[$1] - original.cb[$1]) + abs(output.cr[$1] - original.cr[$1]) } / n
            let grey = (0..<original.y.count).reduce(0.0) { $0 + abs(128 - original.cb[$1]) + abs(128 - original.cr[$1]) } / n
            let lumaShift = (0..<original.y.count).reduce(0.0) { $0 + abs(output.y[$1] - original.y[$1]) } / n
            model.append(error); baseline.append(grey); colour.append(Self.colourfulness(output)); luma.append(lumaShift)
            print(String(format: "%@: chroma error %.2f (grey input %.2f), colourfulness %.1f (original %.1f), luma shift %.2f",
                         name, error, grey, colour.last!, Self.colourfulness(original), lumaShift))
        }
        // Thresholds. Measured on 2026-12-06 (AVX-512 and AVX2 alike): chroma error 30.8 against
        // the grey input's 32.2 (0.96×; better on 3 of the 5 photos), colourfulness 16.7 (the
        // originals 53), brightness shift 6.3 levels. The issue's criterion is "lower than the
        // grey input's": required on the set; colour must be visible (a grey image scores 0; 5 is
        // a faint but visible tint); brightness must stay within 10 levels.
        #expect(Self.mean(model) < Self.mean(baseline), "chroma error \(model) vs grey \(baseline)")
        #expect(Self.mean(colour) > 5, "colourfulness \(colour)")
        #expect(Self.mean(luma) < 10, "luma shift \(luma)")
    }
}
