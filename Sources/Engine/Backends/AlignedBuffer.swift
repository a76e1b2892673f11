import Foundation

/// A 64-byte-aligned scratch buffer for layouts oneDNN picks (blocked activations, reordered
/// weights, scratchpads).
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) throws(EngineError) {
        self.byteCount = byteCount
        pointer = try BufferPool.shared.allocate(byteCount)
    }

    deinit { BufferPool.shared.release(pointer, bytes: byteCount) }
}
