/// Transformed weights (`U`, 36 × the raw weights) kept per weight tensor and direction, and
/// recomputed only when the tensor's version changes (a training step) — the same contract as
/// the oneDNN weight cache.
final class WinogradWeightCache {
    private struct Key: Hashable {
        var storage: ObjectIdentifier
        var adjoint: Bool
    }

    private final class Entry {
        weak var storage: TensorStorage?
        let version: Int
        let shape: [Int]
        let buffer: AlignedBuffer

        init(storage: TensorStorage, version: Int, shape: [Int], buffer: AlignedBuffer) {
            self.storage = storage
            self.version = version
            self.shape = shape
            self.buffer = buffer
        }
    }

    private var entries: [Key: Entry] = [:]

    /// `U` for `weight` (`[cout, cin, 3, 3]`), or for its input-gradient adjoint. Callers hold
    /// the backend's lock.
    func weights(for weight: Tensor, adjoint: Bool) throws -> UnsafePointer<Float> {
        let key = Key(storage: ObjectIdentifier(weight.storage), adjoint: adjoint)
        if let hit = entries[key], hit.storage === weight.storage, hit.version == weight.storage.version,
           hit.shape == weight.shape {
            return UnsafePointer(hit.buffer.pointer.assumingMemoryBound(to: Float.self))
        }
        let (cout, cin) = (weight.shape[0], weight.shape[1])
        let buffer = try AlignedBuffer(byteCount: WinogradF43.coordinates * cout * cin * 4)
        let u = buffer.pointer.bindMemory(to: Float.self, capacity: WinogradF43.coordinates * cout * cin)
        WinogradF43.transformWeights(weight.pointer, cout: cout, cin: cin, adjoint: adjoint, into: u)
        // Entries of freed weights go at once: each holds 36 × the layer's weights (9.4 MB for a
        // 256-channel layer), and a process may load model after model.
        entries = entries.filter { $0.value.storage != nil }
        entries[key] = Entry(storage: weight.storage, version: weight.storage.version, shape: weight.shape, buffer: buffer)
        return UnsafePointer(u)
    }

    func removeAll() { entries.removeAll() }

    /// Transformed weights held (for tests).
    var count: Int { entries.count }
}
