import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file through a temporary file in its folder, renamed into place when complete, so a
/// reader (or a crash) sees the old file or the new one, never a partial one. The content is
/// streamed to the temporary file in pieces, so a large checkpoint is never whole in memory.
enum AtomicFileWriter {
    struct WriteFailed: Error, CustomStringConvertible {
        var errno: Int32
        var description: String { String(cString: strerror(errno)) }
    }

    /// Calls `body` with a sink that appends bytes to the temporary file, then renames it to `url`.
    static func write(_ url: URL, what: String,
                      _ body: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws(CheckpointError) -> Void) throws(CheckpointError) {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UUID().uuidString.prefix(8)).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError(code: .unreadable, path: url.path, message: "cannot write \(what)", underlying: String(cString: strerror(errno)))
        }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do throws(CheckpointError) {
            try body { bytes throws in
                var offset = 0
                while offset < bytes.count {
                    let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw WriteFailed(errno: errno)
                    }
                    offset += n
                }
            }
            closed = true
            guard close(fd) == 0 else {
                throw CheckpointError(code: .unreadable, path: url.path, message: "cannot write \(what)", underlying: String(cString: strerror(errno)))
            }
            guard rename(temporary.path, url.path) == 0 else {
                throw CheckpointError(code: .unreadable, path: url.path, message: "cannot move \(what) into place", underlying: String(cString: strerror(errno)))
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
    }
}
