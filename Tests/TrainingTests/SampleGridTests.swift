import Engine
import Foundation
import Imaging
import Runs
import TestSupport
import Testing
import Training

/// The per-epoch sample grid: tiles where they belong, levels as the reference's tensor2im.
struct SampleGridTests {
    @Test func tilesAreLaidOutAndConvertedLikeTensor2im() throws {
        let red = try Tensor(shape: [1, 3, 2, 3], values: Array(repeating: 1, count: 6) + Array(repeating: -1, count: 12))
        let grey = try Tensor(shape: [1, 1, 2, 3], repeating: 0)  // (0 + 1) / 2 · 255 = 127.5 → 127
        let data = try SampleGrid.png([[red, grey], [grey]], gap: 1)
        let image = try ImageCodec.decode(data, path: "grid.png")
        #expect(image.width == 2 * 3 + 3 && image.height == 2 * 2 + 3)
        func pixel(_ x: Int, _ y: Int) -> [UInt16] { Array(image.samples[(y * image.width + x) * 3..<(y * image.width + x) * 3 + 3]) }
        #expect(pixel(0, 0) == [255, 255, 255])        // border
        #expect(pixel(1, 1) == [255, 0, 0])            // first tile
        #expect(pixel(5, 1) == [127, 127, 127])        // second tile of the first row
        #expect(pixel(1, 4) == [127, 127, 127])        // second row
        #expect(pixel(5, 4) == [255, 255, 255])        // missing tile stays white
        #expect(throws: TrainingError.self) { try SampleGrid.png([[red, try Tensor(zeros: [1, 3, 4, 4])]]) }
        #expect(throws: TrainingError.self) { try SampleGrid.png([]) }
        // StarGAN's and DCGAN's save_image rounds: 127.5 → 128.
        let rounded = try ImageCodec.decode(try SampleGrid.png([[grey]], gap: 1, quantization: .round), path: "r.png")
        #expect(Array(rounded.samples[(1 * rounded.width + 1) * 3..<(1 * rounded.width + 1) * 3 + 3]) == [128, 128, 128])
    }
}
