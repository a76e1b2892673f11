import Foundation
import Imaging
import Testing

/// The pipeline decodes and encodes on several threads at once: every concurrent call must give
/// what Pillow gives for the file (expected.json) and byte-identical encodings, and a broken file
/// must fail with its own code while good files decode beside it.
@Suite struct ConcurrencyTests {
    enum Outcome: Equatable {
        case image(samples: [UInt16], jpeg: Data, png: Data, tiff: Data, webp: Data)
        case failure(ImageError.Code)
    }

    static func run(_ name: String, _ data: Data) -> Outcome {
        do {
            let image = try ImageCodec.decode(data, path: name)
            let out = EncodableImage(
                width: image.width, height: image.height, colorChannels: image.colorChannels, hasAlpha: image.hasAlpha,
                samples: image.samples.map { UInt8(clamping: image.bitDepth == 16 ? $0 >> 8 : $0) },
                iccProfile: image.iccProfile)
            let jpeg = try ImageCodec.encode(out, as: .jpeg, quality: 80, path: name)
            let png = try ImageCodec.encode(out, as: .png, path: name)
            let tiff = try ImageCodec.encode(out, as: .tiff, path: name)
            let webp = try ImageCodec.encode(out, as: .webp, quality: 80, path: name)
            return .image(samples: image.samples, jpeg: jpeg, png: png, tiff: tiff, webp: webp)
        } catch let error as ImageError {
            return .failure(error.code)
        } catch {
            return .failure(.corrupt)
        }
    }

    @Test func parallelCallsGiveEachFileItsOwnResult() async throws {
        let expected = try #require(Fixtures.expected)
        let good = ["jpeg_rgb_420.jpg", "jpeg_cmyk.jpg", "jpeg_orientation_6.jpg", "png_rgba16.png", "png_palette_trns.png",
                    "tiff_tiled_planar16.tif", "tiff_jpeg.tif", "tiff_rgba8_assoc.tif", "webp_alpha_lossy.webp"]
        let bad = ["jpeg_truncated_scan.jpg", "png_bad_idat_crc.png", "tiff_truncated_strip.tif", "webp_truncated.webp"]
        let names = good + bad
        let inputs = try names.map { ($0, try Fixtures.data($0)) }
        let rounds = 6
        let results = await withTaskGroup(of: (Int, Outcome).self) { group in
            for _ in 0..<rounds {
                for (index, input) in inputs.enumerated() { group.addTask { (index, Self.run(input.0, input.1)) } }
            }
            var results = [(Int, Outcome)]()
            for await result in group { results.append(result) }
            return results
        }
        #expect(results.count == inputs.count * rounds)
        // The first result per file is checked against Pillow; every other one must equal it byte for byte.
        var first = [Int: Outcome]()
        for (index, outcome) in results {
            let name = names[index]
            guard let reference = first[index] else {
                first[index] = outcome
                switch outcome {
                case .image(let samples, _, _, _, _):
                    let g = try #require(expected.good[name], "\(name) is not a good fixture")
                    let worst = zip(samples, g.samples).map { abs(Int($0) - $1) }.max() ?? .max
                    #expect(samples.count == g.samples.count && worst <= g.tolerance, "\(name): off by \(worst) from Pillow")
                case .failure(let code):
                    #expect(expected.bad[name] == "\(code)", "\(name) failed with \(code)")
                }
                continue
            }
            #expect(outcome == reference, "\(name): a concurrent call gave a different result")
        }
        #expect(first.count == names.count)
    }
}
