import Foundation
@testable import Pipeline
import Testing
import TestSupport

/// Gantry's resampler against PIL's `Image.resize(size, BICUBIC)` (fixtures made by
/// tools/fixtures/make_resize_fixtures.py): 8-bit data goes through PIL's fixed-point arithmetic,
/// so the results are identical.
struct ResampleTests {
    struct Case: Decodable {
        struct Output: Decodable { var width: Int; var height: Int; var file: String }
        var input: String; var width: Int; var height: Int; var channels: Int; var outputs: [Output]
    }

    static let folder = fixturesDirectory.appendingPathComponent("resize")

    @Test func matchesPIL() throws {
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: Self.folder.appendingPathComponent("manifest.json")))
        #expect(cases.count >= 4)
        for c in cases {
            let raw = try Data(contentsOf: Self.folder.appendingPathComponent(c.input))
            let planes = (0..<c.channels).map { ch in (0..<(c.width * c.height)).map { Float(raw[$0 * c.channels + ch]) } }
            let image = PlanarImage(width: c.width, height: c.height, planes: planes, maxValue: 255)
            for o in c.outputs {
                let got = Resampler.resize(image, width: o.width, height: o.height)
                let expected = try Data(contentsOf: Self.folder.appendingPathComponent(o.file))
                var off = 0
                for i in 0..<(o.width * o.height) {
                    for ch in 0..<c.channels where got.planes[ch][i] != Float(expected[i * c.channels + ch]) { off += 1 }
                }
                #expect(off == 0, "\(o.file): \(off) values differ from PIL")
            }
        }
    }
}
