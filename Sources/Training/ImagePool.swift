import Engine
import Runs

/// CycleGAN's history of generated images (the reference's `util/image_pool.py`): the
/// discriminators see a mix of the newest fakes and older ones, which steadies their training.
///
/// `query` takes a batch N×C×H×W and, per image in order:
/// - while fewer than `size` images are stored, stores a copy and returns the image;
/// - once full, with probability ½ (`uniform(0, 1) > 0.5`) returns a stored image chosen
///   uniformly and stores the current image in its slot, otherwise returns the current image.
/// The images returned are stacked back into one batch. A pool of size 0 returns its input.
///
/// Randomness comes from the `RandomSource` given, so a seeded run is reproducible; the draws
/// are in the reference's order (the coin, then the slot only when the coin says swap).
public final class ImagePool {
    /// How many images the pool holds when full (`--pool_size`, 50 in the reference).
    public let size: Int
    private let random: RandomSource
    /// Stored images, each 1×C×H×W and owned by the pool (copies).
    private var images: [Tensor] = []

    /// - Throws: `TrainingError.invalidSetting` for a negative size.
    public init(size: Int, random: RandomSource) throws(TrainingError) {
        guard size >= 0 else { throw TrainingError(.invalidSetting, "image pool size must be ≥ 0; got \(size)") }
        self.size = size
        self.random = random
    }

    /// Number of images stored so far (at most `size`).
    public var count: Int { images.count }

    /// The stored image in slot `index` (for inspection; a copy, 1×C×H×W).
    public func storedImage(_ index: Int) throws -> Tensor {
        guard images.indices.contains(index) else {
            throw TrainingError(.invalidSetting, "image pool slot \(index) does not exist (\(images.count) images stored)")
        }
        return try images[index].copy()
    }

    /// Puts back images a resumed run saved (`storedImage(0..<count)`), so it continues with the
    /// pool it stopped with. Throws when there are more than `size` or their shapes differ.
    public func restore(_ saved: [Tensor]) throws {
        guard saved.count <= size else {
            throw TrainingError(.stateMismatch, "image pool: \(saved.count) saved images for a pool of \(size)")
        }
        guard saved.allSatisfy({ $0.rank == 4 && $0.shape[0] == 1 && $0.shape == saved.first?.shape }) else {
            throw TrainingError(.stateMismatch, "image pool: saved images must all be 1×C×H×W of one shape")
        }
        images = try saved.map { try $0.copy() }
    }

    /// The batch for the discriminator: see the type's description. The result is a new tensor
    /// (except with size 0), so later changes to `images` do not reach the pool or the result.
    ///
    /// - Throws: `TrainingError.shapeMismatch` when `images` is not N×C×H×W, or its C×H×W
    ///   differs from the images already stored (the reference would fail in `torch.cat`).
    public func query(_ batch: Tensor) throws -> Tensor {
        guard size > 0 else { return batch }
        guard batch.rank == 4 else { throw TrainingError(.shapeMismatch, "image pool expects an N×C×H×W batch, got \(batch.shape)") }
        let imageShape = [1] + batch.shape.dropFirst()
        if let stored = images.first, stored.shape != imageShape {
            throw TrainingError(.shapeMismatch, "image pool holds images of \(stored.shape.dropFirst()) but was given \(batch.shape.dropFirst())")
        }
        let n = batch.shape[0], plane = imageShape.reduce(1, *)
        let output = try Tensor(uninitialized: batch.shape)
        try batch.withUnsafeBufferPointer { input in
            try output.withUnsafeMutableBufferPointer { out in
                for k in 0..<n {
                    let current = UnsafeBufferPointer(rebasing: input[(k * plane)..<((k + 1) * plane)])
                    let destination = UnsafeMutableBufferPointer(rebasing: out[(k * plane)..<((k + 1) * plane)])
                    if images.count < size {
                        images.append(try Self.image(copying: current, shape: imageShape))
                        _ = destination.update(fromContentsOf: current)
                    } else if random.nextUnit() > 0.5 {
                        let slot = Int(random.next() % UInt64(size))
                        images[slot].withUnsafeBufferPointer { _ = destination.update(fromContentsOf: $0) }
                        images[slot] = try Self.image(copying: current, shape: imageShape)
                    } else {
                        _ = destination.update(fromContentsOf: current)
                    }
                }
            }
        }
        return output
    }

    private static func image(copying values: UnsafeBufferPointer<Float>, shape: [Int]) throws -> Tensor {
        let t = try Tensor(uninitialized: shape)
        t.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: values) }
        return t
    }
}
