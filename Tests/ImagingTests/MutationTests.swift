import Foundation
import Imaging
import Testing
import TestSupport

/// Randomly damaged files must fail with an ImageError or decode to a consistent image. They are
/// decoded in a child `gantry probe`, so a crash fails this test and names the input (kept on
/// disk for replaying) instead of taking the whole test run down.
@Suite struct MutationTests {
    /// SplitMix64: deterministic, so a failure reproduces.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        (0..<8).reduce(UInt32(n)) { c, _ in c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }

    static func crc(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        ~bytes.reduce(~UInt32(0)) { crcTable[Int(($0 ^ UInt32($1)) & 0xFF)] ^ ($0 >> 8) }
    }

    /// Recomputes every chunk CRC so the damage reaches libpng instead of the CRC check.
    static func fixCRCs(_ png: inout [UInt8]) {
        var pos = 8
        while pos + 12 <= png.count {
            let length = png[pos..<(pos + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard length >= 0, pos + 12 + length <= png.count else { return }
            let value = crc(png[(pos + 4)..<(pos + 8 + length)])
            for i in 0..<4 { png[pos + 8 + length + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i)) }
            pos += 12 + length
        }
    }

    @Test(arguments: ["jpeg_rgb_420.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg", "jpeg_orientation_6.jpg",
                      "png_rgb8_interlaced.png", "png_palette_trns.png", "png_rgba16.png", "png_icc.png",
                      "tiff_rgb8_lzw.tif", "tiff_tiled_planar16.tif", "tiff_jpeg.tif", "tiff_palette.tif", "tiff_cmyk.tif",
                      "webp_lossy.webp", "webp_alpha_lossless.webp", "webp_orientation_6.webp"])
    func mutatedFilesNeverCrash(_ name: String) throws {
        let original = [UInt8](try Fixtures.data(name))
        var random = Random(state: UInt64(original.count))
        var inputs: [(name: String, data: Data)] = []
        for i in 0..<400 {
            var data = original
            for _ in 0..<(1 + random.below(4)) {
                data[random.below(data.count)] = UInt8(truncatingIfNeeded: random.next())
            }
            if name.hasSuffix(".png") { Self.fixCRCs(&data) }
            inputs.append(("\(i)-\(name)", Data(data)))
        }
        let findings = try ChildProbe.run(kind: "image", inputs: inputs)
        #expect(findings.isEmpty, "\(findings.map(\.description).joined(separator: "; "))")
    }

    /// The harness itself: a crashing input must be reported, not skipped.
    @Test func aCrashInTheChildIsReportedWithItsInput() throws {
        let good = try Fixtures.data("png_gray8.png")
        let findings = try ChildProbe.run(kind: "image", inputs: [("a.png", good), ("boom.png", good), ("c.png", good)],
                                          environment: ["GANTRY_TEST_PROBE_CRASH_ON": "boom"])
        #expect(findings.map(\.name) == ["boom.png"], "\(findings)")
        #expect(findings.first?.reason.contains("signal") == true, "\(findings)")
    }
}
