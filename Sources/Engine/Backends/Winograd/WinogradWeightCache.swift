/// Transformed weights (`U`, 36 × the raw or fused weights) kept per weight tensor and direction, and
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
    /// Weights seen to change between calls (a training step), by their storage.
    private var changing: [ObjectIdentifier: Weak] = [:]

    private struct Weak { weak var storage: TensorStorage? }

    /// `U` for `weight` (`[cout, cin, 3, 3]`), or for its input-gradient adjoint; with `fuse`,
    /// for the `[cout', cin', 3, 3]` weights it makes of `weight` (a strided layer's fused form,
    /// `PhaseWinograd`, `SpaceToDepthWinograd`: only `U` is kept). Callers hold the backend's lock.
    func weights(for weight: Tensor, adjoint: Bool, fuse: ((Tensor) throws -> Tensor)? = nil) throws -> UnsafePointer<Float> {
        let key = Key(storage: ObjectIdentifier(weight.storage), adjoint: adjoint)
        if let hit = entries[key], hit.storage === weight.storage, hit.version == weight.storage.version,
           hit.shape == weight.shape {
            return UnsafePointer(hit.buffer.pointer.assumingMemoryBound(to: Float.self))
        }
        let source = try fuse?(weight) ?? weight
        let (cout, cin) = (source.shape[0], source.shape[1])
        let buffer = try AlignedBuffer(byteCount: WinogradF43.coordinates * cout * cin * 4)
        let u = buffer.pointer.bindMemory(to: Float.self, capacity: WinogradF43.coordinates * cout * cin)
        WinogradF43.transformWeights(source.pointer, cout: cout, cin: cin, adjoint: adjoint, into: u)
        // Entries of freed weights go at once: each holds 36 × the layer's weights (9.4 MB for a
        // 256-channel layer), and a process may load model after model.
        entries = entries.filter { $0.value.storage != nil }
        entries[key] = Entry(storage: weight.storage, version: weight.storage.version, shape: weight.shape, buffer: buffer)
        return UnsafePointer(u)
    }

    /// Whether `weight` changed since its `U` was made: weights being trained. For the fused
    /// strided forms, `U` would be redone every step and held beside oneDNN's own prepared
    /// weights, which the backward passes need anyway (pix2pix's iteration measured no faster
    /// and 177 MB bigger), so the caller runs them on oneDNN instead and the entry is dropped.
    func changes(_ weight: Tensor) -> Bool {
        let storage = ObjectIdentifier(weight.storage), key = Key(storage: storage, adjoint: false)
        if let seen = changing[storage], seen.storage === weight.storage { return true }
        guard let hit = entries[key], hit.storage === weight.storage, hit.version != weight.storage.version else { return false }
        entries[key] = nil
        changing = changing.filter { $0.value.storage != nil }
        changing[storage] = Weak(storage: weight.storage)
        return true
    }

    func removeAll() {
        entries.removeAll()
        changing.removeAll()
    }

    /// Transformed weights held (for tests).
    var count: Int { entries.count }
}
