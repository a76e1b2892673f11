import Engine
import Foundation
import Imaging
import Runs
import TestSupport
import Testing
import Training

/// The reference's dataset layouts, listing order, transforms and refusals.
struct DatasetTests {
    func options(_ dir: TemporaryDirectory, _ recipe: TrainingRecipe = .pix2pix, _ flags: [(String, String)] = []) throws -> TrainingOptions {
        try TrainingOptions.resolve(recipe, flags: [("data", dir.url.path), ("run", "r"), ("preprocess", "crop"),
                                                    ("crop-size", "32"), ("load-size", "32"), ("no-flip", "true")] + flags)
    }

    func png(_ w: Int, _ h: Int, seed: Int) throws -> Data { try TestImages.png(width: w, height: h, seed: seed) }

    /// The decoded file as the [-1, 1] tensor the reference's ToTensor + Normalize makes.
    func expected(_ data: Data, x: Int = 0, width: Int? = nil, flip: Bool = false) throws -> [Float] {
        let image = PlanarImage(try ImageCodec.decode(data, path: "t"))
        let w = width ?? image.width
        var out: [Float] = []
        for plane in image.planes {
            for r in 0..<image.height {
                for c in 0..<w { out.append(plane[r * image.width + x + (flip ? w - 1 - c : c)] / 127.5 - 1) }
            }
        }
        return out
    }

    /// CUT's unaligned dataset loads at --crop-size once the epoch passes --n-epochs, so the
    /// random crops of the decay phase stop (`unaligned_dataset.py`, `is_finetuning`).
    @Test func cutLoadsAtCropSizeOnceTheDecayStarts() throws {
        let dir = try TemporaryDirectory()
        try dir.write("trainA/1.png", try png(48, 40, seed: 1))
        try dir.write("trainB/1.png", try png(40, 48, seed: 2))
        let data = try TrainingDataset(try options(dir, .cut, [("preprocess", "resize_and_crop"), ("load-size", "40"), ("n-epochs", "2")]))
        func input(_ seed: UInt64, epoch: Int) throws -> [Float] { try data.item(0, random: RandomSource(seed: seed), epoch: epoch).input.values }
        let early = try (1...4).map { try input($0, epoch: 2) }
        #expect(Set(early.map { $0.prefix(64).map(\.bitPattern) }).count > 1, "random 32×32 crops of the 40×40 image")
        let late = try (1...4).map { try input($0, epoch: 3) }
        #expect(late.allSatisfy { $0 == late[0] } && late[0].count == 3 * 32 * 32, "load = crop: the whole image, whatever the draw")
        // Other recipes keep their transform.
        let cycle = try TrainingDataset(try options(dir, .cyclegan, [("preprocess", "resize_and_crop"), ("load-size", "40"), ("n-epochs", "2")]))
        #expect(Set(try (1...4).map { try cycle.item(0, random: RandomSource(seed: $0), epoch: 3).input.values.prefix(64).map(\.bitPattern) }).count > 1)
    }

    @Test func alignedSplitsEachImageIntoAAndBWithOneCropAndFlip() throws {
        let dir = try TemporaryDirectory()
        let ab = try png(64, 32, seed: 1)
        try dir.write("train/1.png", ab)
        let data = try TrainingDataset(try options(dir))
        #expect(data.layout == .aligned && data.count == 1)
        let item = try data.item(0, random: RandomSource(seed: 1))
        #expect(item.input.shape == [1, 3, 32, 32])
        #expect(item.input.values.elementsEqual(try expected(ab, x: 0, width: 32)) { abs($0 - $1) < 1e-6 })
        #expect(item.target.values.elementsEqual(try expected(ab, x: 32, width: 32)) { abs($0 - $1) < 1e-6 })
        // --direction BtoA swaps the halves.
        let swapped = try TrainingDataset(try options(dir, .pix2pix, [("direction", "BtoA")])).item(0, random: RandomSource(seed: 1))
        #expect(swapped.input.values == item.target.values)
        // With flips on, some seed flips: both halves mirrored together.
        let flipping = try TrainingDataset(try options(dir, .pix2pix, [("no-flip", "false")]))
        let flipped = try (1...8).map { try flipping.item(0, random: RandomSource(seed: UInt64($0))) }
            .first { $0.input.values != item.input.values }
        let f = try #require(flipped)
        #expect(f.input.values.elementsEqual(try expected(ab, x: 0, width: 32, flip: true)) { abs($0 - $1) < 1e-6 })
        #expect(f.target.values.elementsEqual(try expected(ab, x: 32, width: 32, flip: true)) { abs($0 - $1) < 1e-6 })
    }

    @Test func unalignedTakesBByIndexWhenSerialAndListsByPath() throws {
        let dir = try TemporaryDirectory()
        for (i, name) in ["b.png", "a.png", "A.png", "sub/c.jpg"].enumerated() { try dir.write("trainA/\(name)", try png(32, 32, seed: i)) }
        try dir.write("trainA/notes.txt", "not an image")
        for (i, name) in ["y.png", "x.png"].enumerated() { try dir.write("trainB/\(name)", try png(32, 32, seed: 10 + i)) }
        let data = try TrainingDataset(try options(dir, .cyclegan, [("serial-batches", "true")]))
        #expect(data.layout == .unaligned && data.count == 4)
        #expect(data.filesA.map { URL(fileURLWithPath: $0).lastPathComponent } == ["A.png", "a.png", "b.png", "c.jpg"])
        #expect(data.epochOrder(random: RandomSource(seed: 1)) == [0, 1, 2, 3])
        let paths = try (0..<4).map { try data.item($0, random: RandomSource(seed: 1)).paths[1] }
        #expect(paths.map { URL(fileURLWithPath: $0).lastPathComponent } == ["x.png", "y.png", "x.png", "y.png"])
        let shuffled = try TrainingDataset(try options(dir, .cyclegan))
        let order = shuffled.epochOrder(random: RandomSource(seed: 5))
        #expect(order.sorted() == [0, 1, 2, 3])
        #expect(shuffled.epochOrder(random: RandomSource(seed: 5)) == order)
    }

    /// TIFF and WebP photos are listed and loaded like PNGs: the same pixels give the same tensors.
    @Test func tiffAndWebPAreTrainingData() throws {
        let dir = try TemporaryDirectory()
        let image = TestImages.pattern(width: 32, height: 32, seed: 3)
        try dir.write("trainA/a.tif", try ImageCodec.encode(image, as: .tiff, path: "a.tif"))
        try dir.write("trainA/b.webp", try ImageCodec.encode(image, as: .webp, lossless: true, path: "b.webp"))
        try dir.write("trainA/c.png", try ImageCodec.encode(image, as: .png, path: "c.png"))
        for name in ["x.tiff", "y.webp"] { try dir.write("trainB/\(name)", try ImageCodec.encode(image, as: name.hasSuffix("webp") ? .webp : .tiff, lossless: true, path: name)) }
        let data = try TrainingDataset(try options(dir, .cyclegan, [("serial-batches", "true")]))
        #expect(data.filesA.map { URL(fileURLWithPath: $0).lastPathComponent } == ["a.tif", "b.webp", "c.png"])
        let tensors = try (0..<3).map { try data.item($0, random: RandomSource(seed: 1)).input.values }
        #expect(tensors[0] == tensors[2] && tensors[1] == tensors[2])
    }

    @Test func pairedFoldersNeedTheSameNames() throws {
        let dir = try TemporaryDirectory()
        try dir.write("A/1.png", try png(32, 32, seed: 1))
        try dir.write("B/1.png", try png(32, 32, seed: 2))
        #expect(try TrainingDataset(try options(dir)).layout == .paired)
        try dir.write("B/2.png", try png(32, 32, seed: 3))
        #expect { try TrainingDataset(try options(dir)) } throws: { "\($0)".contains("'2.png' is in only one of them") }
    }

    @Test func refusesBeforeTrainingWithTheFileNamed() throws {
        let empty = try TemporaryDirectory()
        #expect { try TrainingDataset(try options(empty)) } throws: { "\($0)".contains("no training images found") }
        let small = try TemporaryDirectory()
        try small.write("train/tiny.png", try png(40, 20, seed: 1))
        #expect { try TrainingDataset(try options(small)) } throws: { "\($0)".contains("tiny.png: 20×20 per half is too small for --crop-size 32") }
        let broken = try TemporaryDirectory()
        try broken.write("trainA/ok.png", try png(32, 32, seed: 1))
        try broken.write("trainB/bad.png", Data("not a png".utf8))
        #expect { try TrainingDataset(try options(broken, .cyclegan)) } throws: { "\($0)".contains("bad.png") }
        let noB = try TemporaryDirectory()
        try noB.write("trainA/ok.png", try png(32, 32, seed: 1))
        try FileManager.default.createDirectory(at: noB.url.appendingPathComponent("trainB"), withIntermediateDirectories: true)
        #expect { try TrainingDataset(try options(noB, .cyclegan)) } throws: { "\($0)".contains("trainB holds no PNG, JPEG, TIFF or WebP images") }
    }

    /// `get_transform`'s resize rules: resize_and_crop to load², scale_width keeps the aspect
    /// (at least the crop high), none rounds each side to a multiple of 4 half-to-even.
    @Test func transformSizesFollowTheReference() {
        func size(_ p: TrainingOptions.Preprocess, _ w: Int, _ h: Int) -> [Int] {
            let s = ReferenceTransform(preprocess: p, loadSize: 32, cropSize: 16, flip: false).outputSize(width: w, height: h)
            return [s.width, s.height]
        }
        #expect(size(.resizeAndCrop, 50, 40) == [16, 16])
        #expect(size(.scaleWidth, 64, 16) == [32, 16])
        #expect(size(.scaleWidth, 64, 128) == [32, 64])
        #expect(size(.none, 30, 18) == [32, 16])
        #expect(size(.none, 26, 22) == [24, 24])
        let t = ReferenceTransform(preprocess: .resizeAndCrop, loadSize: 40, cropSize: 32, flip: true)
        let random = RandomSource(seed: 3)
        let draws = (0..<200).map { _ in t.parameters(width: 100, height: 60, random: random) }
        #expect(draws.allSatisfy { (0...8).contains($0.cropX) && (0...8).contains($0.cropY) })
        #expect(Set(draws.map(\.cropX)).count == 9 && draws.contains { $0.flip } && draws.contains { !$0.flip })
    }
}
