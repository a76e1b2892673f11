import Foundation
import Imaging
import Testing

/// The pipeline decodes and encodes on several threads at once.
@Suite struct ConcurrencyTests {
    @Test func parallelDecodeAndEncodeAgreeWithSerial() async throws {
        let names = ["jpeg_rgb_420.jpg", "jpeg_cmyk.jpg", "jpeg_orientation_6.jpg", "png_rgba16.png", "png_palette_trns.png",
                     "jpeg_truncated_scan.jpg", "png_bad_idat_crc.png"]
        let inputs = try names.map { ($0, try Fixtures.data($0)) }
        func run(_ name: String, _ data: Data) -> String {
            do {
                let image = try ImageCodec.decode(data, path: name)
                let out = EncodableImage(
                    width: image.width, height: image.height, colorChannels: image.colorChannels, hasAlpha: image.hasAlpha,
                    samples: image.samples.map { UInt8(clamping: image.bitDepth == 16 ? $0 >> 8 : $0) },
                    iccProfile: image.iccProfile)
                let jpeg = try ImageCodec.encode(out, as: .jpeg, quality: 80, path: name)
                let png = try ImageCodec.encode(out, as: .png, path: name)
                return "\(image.samples.hashValue) \(jpeg.hashValue) \(png.hashValue)"
            } catch {
                return "\(error)"
            }
        }
        let serial = inputs.map { run($0.0, $0.1) }
        let parallel = await withTaskGroup(of: (Int, String).self) { group in
            for round in 0..<6 {
                for (index, input) in inputs.enumerated() {
                    group.addTask { (index, run(input.0, input.1)) }
                    _ = round
                }
            }
            var results = [(Int, String)]()
            for await result in group { results.append(result) }
            return results
        }
        #expect(parallel.count == inputs.count * 6)
        for (index, result) in parallel { #expect(result == serial[index], "\(names[index])") }
    }
}
