import Engine
import Foundation
import Imaging
import Runs

/// What the training loop orders, batches and prefetches: `count` items, each one or more tensors
/// (1×…) that the loop stacks part by part into N×… batches. Each recipe's data conforms.
///
/// All data randomness (the epoch's shuffle, each item's crop, flip or pairing) is drawn from the
/// `random` passed in, in order, on the prefetch thread: that stream's state after any batch is
/// what a resumable state saves.
public protocol TrainingData: AnyObject, Sendable {
    var count: Int { get }
    /// The order of one epoch (a pass over the data).
    func epochOrder(random: RandomSource) -> [Int]
    /// Item `index`'s parts, e.g. [input, target] or [image, labels].
    func parts(_ index: Int, random: RandomSource) throws -> [Tensor]
    /// The same in epoch `epoch` (CUT's dataset changes its transform after --n-epochs).
    func parts(_ index: Int, epoch: Int, random: RandomSource) throws -> [Tensor]
    /// Every file the data reads, in order (the ranks of a data-parallel job compare them).
    var fileList: [String] { get }
}

extension TrainingData {
    public func parts(_ index: Int, epoch: Int, random: RandomSource) throws -> [Tensor] { try parts(index, random: random) }

    /// A Fisher–Yates shuffle from the seeded source (the same seed gives the same epochs).
    public func epochOrder(random: RandomSource) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, ReferenceTransform.uniform(0...i, random)) }
        return order
    }
}

extension TrainingDataset: TrainingData {
    /// [input, target], each 1×C×H×W.
    public func parts(_ index: Int, random: RandomSource) throws -> [Tensor] {
        try parts(index, epoch: 1, random: random)
    }

    public func parts(_ index: Int, epoch: Int, random: RandomSource) throws -> [Tensor] {
        let item = try item(index, random: random, epoch: epoch)
        return [item.input, item.target]
    }

    public var fileList: [String] { filesA + filesB }
}

extension StarGANDataset: TrainingData {
    /// [image 1×3×S×S, labels 1×c].
    public func parts(_ index: Int, random: RandomSource) throws -> [Tensor] {
        let item = try item(index, random: random)
        return [item.image, try Tensor(shape: [1, item.labels.count], values: item.labels)]
    }

    public var fileList: [String] { files }
}

/// DCGAN's data: every PNG, JPEG, TIFF and WebP under a folder (sorted by path), each resized with its shorter
/// side to `size` (bilinear) and centre-cropped: the example's `Resize`, `CenterCrop`, `Normalize`.
public final class ImageFolderData: TrainingData {
    public let files: [String]
    public let size: Int

    public init(folder: String, size: Int) throws {
        files = try TrainingDataset.images(in: URL(fileURLWithPath: folder))
        guard !files.isEmpty else { throw TrainingError(.invalidSetting, "\(folder): no PNG, JPEG, TIFF or WebP images") }
        self.size = size
    }

    public var count: Int { files.count }
    public var fileList: [String] { files }

    public func parts(_ index: Int, random: RandomSource) throws -> [Tensor] { [try Self.load(files[index], size: size)] }

    /// 1×3×size×size in [−1, 1].
    public static func load(_ file: String, size: Int) throws -> Tensor {
        let decoded = try TrainingDataset.decode(file)
        let r = PlanarImage.shorterSide(width: decoded.width, height: decoded.height, to: size)
        guard PlanarImage.fits(width: r.width, height: r.height) else {
            throw TrainingError(.invalidSetting, "\(file): \(decoded.width)×\(decoded.height) would be \(r.width)×\(r.height) with its shorter side at \(size), too large an image")
        }
        let image = decoded.shorterSideResized(to: size).centreCropped(width: size, height: size)
        return try Tensor(normalizing: image, channels: 3)
    }
}
