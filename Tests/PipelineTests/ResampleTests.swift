import Foundation
import Imaging
@testable import Pipeline
import Testing
import TestSupport

/// Gantry's resampler against PIL's `Image.resize(size, BICUBIC)` (fixtures made by
/// tools/fixtures/make_resize_fixtures.py): 8-bit data goes through PIL's fixed-point arithmetic
/// in Pillow 13's pass order, so the results are identical to Pillow 13's; 16-bit data takes the float path, checked against PIL's
/// algorithm in float64; and the reference's size rules for `none` and `scale-width`.
struct ResampleTests {
    struct Case: Decodable {
        struct Output: Decodable {
            var width: Int; var height: Int; var file: String
            var float_file: String?; var file_pillow13: String?; var pillow13_values_differing: Int?
        }
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
                let expected = try Data(contentsOf: Self.folder.appendingPathComponent(o.file_pillow13 ?? o.file))
                var off = 0
                for i in 0..<(o.width * o.height) {
                    for ch in 0..<c.channels where got.planes[ch][i] != Float(expected[i * c.channels + ch]) { off += 1 }
                }
                #expect(off == 0, "\(o.file): \(off) values differ from PIL")
            }
        }
    }

    static func cases() throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))
    }

    static func input(_ c: Case, scale: Float = 1, maxValue: Float = 255) throws -> PlanarImage {
        let raw = try Data(contentsOf: folder.appendingPathComponent(c.input))
        let planes = (0..<c.channels).map { ch in (0..<(c.width * c.height)).map { Float(raw[$0 * c.channels + ch]) * scale } }
        return PlanarImage(width: c.width, height: c.height, planes: planes, maxValue: maxValue)
    }

    /// 16-bit images are resampled without rounding. The same pictures scaled to 0…65535 must
    /// give PIL's algorithm evaluated in float64 (the `.f32` files: unrounded weights, the
    /// intermediate clipped as PIL clips it), scaled alike: within 2e-3 of a level, where a
    /// missing intermediate clip is off by up to 15 levels and a wrong kernel by whole levels.
    @Test func sixteenBitDataFollowsTheFloatReference() throws {
        var checked = 0
        for c in try Self.cases() {
            let image = try Self.input(c, scale: 257, maxValue: 65535)
            for o in c.outputs {
                guard let file = o.float_file else { continue }
                let raw = try Data(contentsOf: Self.folder.appendingPathComponent(file))
                let expected = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                let got = Resampler.resize(image, width: o.width, height: o.height)
                var worst: Float = 0
                for i in 0..<(o.width * o.height) {
                    for ch in 0..<c.channels { worst = max(worst, abs(got.planes[ch][i] / 257 - expected[i * c.channels + ch])) }
                }
                #expect(expected.count == o.width * o.height * c.channels && worst <= 2e-3, "\(file): off by \(worst) levels")
                checked += 1
            }
        }
        #expect(checked >= 20)
    }

    /// Pillow 13 runs the vertical pass first when the height shrinks much more than the width,
    /// and its rounding between passes makes that visible. Gantry follows Pillow 13 (the fixtures'
    /// `.pillow13.bin`, what a reference run with today's Pillow gets) and so differs from
    /// Pillow ≤ 12's bytes on exactly the values the fixtures count.
    @Test func passOrderFollowsPillow13() throws {
        var checked = 0
        for c in try Self.cases() {
            let image = try Self.input(c)
            for o in c.outputs {
                guard let file = o.file_pillow13, let differing = o.pillow13_values_differing else { continue }
                let pillow13 = try Data(contentsOf: Self.folder.appendingPathComponent(file))
                let pillow12 = try Data(contentsOf: Self.folder.appendingPathComponent(o.file))
                let got = Resampler.resize(image, width: o.width, height: o.height)
                var off13 = 0, off12 = 0
                for i in 0..<(o.width * o.height) {
                    for ch in 0..<c.channels {
                        if got.planes[ch][i] != Float(pillow13[i * c.channels + ch]) { off13 += 1 }
                        if got.planes[ch][i] != Float(pillow12[i * c.channels + ch]) { off12 += 1 }
                    }
                }
                #expect(off13 == 0 && off12 == differing, "\(file): \(off13) values differ from Pillow 13, \(off12) from Pillow 12 (fixture: \(differing))")
                checked += 1
            }
        }
        #expect(checked >= 4)
    }

    struct SizeRules: Decodable {
        struct Example: Decodable { var input: [Int]; var output: [Int]; var resized: Bool; var load_size: Int?; var crop_size: Int? }
        struct Rule: Decodable { var examples: [Example] }
        var make_power_2: Rule
        var scale_width: Rule
    }

    /// `--preprocess none` and `scale-width` size images as the reference's `__make_power_2`
    /// and `__scale_width` do (size_rules.json, computed by their Python code). Where the
    /// reference would make a zero side (and PIL raise), Gantry uses 4, the smallest size the
    /// network takes.
    @Test func referenceSizeRules() throws {
        let rules = try JSONDecoder().decode(SizeRules.self, from: Data(contentsOf: Self.folder.appendingPathComponent("size_rules.json")))
        #expect(rules.make_power_2.examples.count >= 10 && rules.scale_width.examples.count >= 8)
        for e in rules.make_power_2.examples {
            let g = PreprocessPolicy.none.geometry(width: e.input[0], height: e.input[1])
            let want = (max(e.output[0], 4), max(e.output[1], 4))
            #expect(g.resize == want && g.crop == nil, "make_power_2 \(e.input): \(g.resize), reference \(e.output)")
            #expect((g.resize != (e.input[0], e.input[1])) == e.resized, "\(e.input)")
        }
        for e in rules.scale_width.examples {
            let load = try #require(e.load_size), crop = try #require(e.crop_size)
            let policy = try #require(PreprocessPolicy.named("scale-width", loadSize: load, cropSize: crop))
            let g = policy.geometry(width: e.input[0], height: e.input[1])
            #expect(g.resize == (e.output[0], e.output[1]), "scale_width \(e.input) load \(load) crop \(crop): \(g.resize), reference \(e.output)")
            #expect((g.resize != (e.input[0], e.input[1])) == e.resized, "\(e.input)")
        }
    }
}
