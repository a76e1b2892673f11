import Foundation
import Imaging
import Testing
import TestSupport

/// `CIELab` against scikit-image 0.26's rgb2lab and lab2rgb on dense grids
/// (tools/fixtures/make_lab_fixtures.py wrote the values; the grids are regenerated here).
///
/// Tolerances: 1e-11 absolute on L, a, b (values up to ±110) and 1e-13 on r, g, b in [0, 1] — a
/// few units in the last place, since numpy's matrix product may fuse or order its three
/// multiply-adds differently; any constant or branch that differed from skimage's would show
/// as 1e-6 or more.
struct CIELabTests {
    static func fixture() throws -> [Double] {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("lab/lab_grid.f64"))
        return data.withUnsafeBytes { raw in (0..<(data.count / 8)).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) } }
    }

    @Test func rgbToLabMatchesSkimage() throws {
        let values = try Self.fixture()
        let levels = Array(stride(from: 0, through: 255, by: 15))
        #expect(values.count == levels.count * levels.count * levels.count * 3 + 11 * 16 * 16 * 3 + 9)
        var i = 0, worst = 0.0
        for r in levels { for g in levels { for b in levels {
            let lab = CIELab.fromRGB(Double(r) / 255, Double(g) / 255, Double(b) / 255)
            worst = max(worst, abs(lab.l - values[i]), abs(lab.a - values[i + 1]), abs(lab.b - values[i + 2]))
            i += 3
        } } }
        #expect(worst <= 1e-11, "largest difference from skimage: \(worst)")
        // The note's test vectors, as a reader can check them.
        let red = CIELab.fromRGB(1, 0, 0)
        #expect(abs(red.l - 53.2405879) < 1e-7 && abs(red.a - 80.0923082) < 1e-7 && abs(red.b - 67.2027510) < 1e-7)
    }

    @Test func labToRGBMatchesSkimageWithItsClipping() throws {
        let values = try Self.fixture()
        var i = 18 * 18 * 18 * 3, worst = 0.0
        var clipped = 0
        for l in stride(from: 0.0, through: 100, by: 10) {
            for a in stride(from: -120.0, through: 120, by: 16) {
                for b in stride(from: -120.0, through: 120, by: 16) {
                    let rgb = CIELab.toRGB(l, a, b)
                    worst = max(worst, abs(rgb.r - values[i]), abs(rgb.g - values[i + 1]), abs(rgb.b - values[i + 2]))
                    if [rgb.r, rgb.g, rgb.b].contains(where: { $0 == 0 || $0 == 1 }) { clipped += 1 }
                    i += 3
                }
            }
        }
        #expect(worst <= 1e-13, "largest difference from skimage: \(worst)")
        #expect(clipped > 1000, "the grid reaches far outside sRGB, so clipping is exercised (\(clipped) colours)")
    }

    /// Every uint8 colour comes back to itself through Lab, rounded (skimage's round trip).
    @Test func roundTripKeepsEveryColourOnAGrid() {
        for r in stride(from: 0, through: 255, by: 5) { for g in stride(from: 0, through: 255, by: 5) { for b in stride(from: 0, through: 255, by: 5) {
            let lab = CIELab.fromRGB(Double(r) / 255, Double(g) / 255, Double(b) / 255)
            let rgb = CIELab.toRGB(lab.l, lab.a, lab.b)
            #expect([rgb.r, rgb.g, rgb.b].map { Int(($0 * 255).rounded()) } == [r, g, b])
        } } }
    }

    /// Keeping lightness: colours outside sRGB lose chroma, not lightness (L* of the result within
    /// 0.01 of the asked L, hue within 0.6°); colours inside come out as `toRGB` gives them.
    @Test func keepingLightnessShrinksChromaOnly() {
        var outside = 0
        for l in [0.0, 0.5, 99.5, 100] + Array(stride(from: 2.0, through: 98, by: 8)) {
            for a in stride(from: -120.0, through: 120, by: 12) {
                for b in stride(from: -120.0, through: 120, by: 12) {
                    let kept = CIELab.toRGBKeepingLightness(l, a, b)
                    let clipped = CIELab.toRGB(l, a, b)
                    let back = CIELab.fromRGB(kept.r, kept.g, kept.b)
                    #expect(abs(back.l - l) < 0.01, "L \(l) a \(a) b \(b): L* \(back.l)")
                    let inside = CIELab.fromRGB(clipped.r, clipped.g, clipped.b)
                    if abs(inside.l - l) < 1e-9 && abs(inside.a - a) < 1e-9 && abs(inside.b - b) < 1e-9 {
                        #expect(kept == clipped)
                    } else {
                        outside += 1
                        // Same hue: (a, b) scaled by one non-negative factor.
                        let chroma = (a * a + b * b).squareRoot(), keptChroma = (back.a * back.a + back.b * back.b).squareRoot()
                        #expect(keptChroma <= chroma + 0.01)
                        if keptChroma > 5 { #expect(abs(back.a * b - back.b * a) / (chroma * keptChroma) < 1e-2, "hue of \(l) \(a) \(b)") }
                    }
                }
            }
        }
        #expect(outside > 1000)
    }
}
