import Foundation

/// A 64-byte-aligned scratch buffer for layouts oneDNN picks (blocked activations, reordered
/// weights, scratchpads).
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(byteCount, 64)) == 0, let raw else {
            fatalError("out of memory allocating a \(byteCount)-byte buffer")
        }
        pointer = raw
    }

    deinit { free(pointer) }
}
