import Foundation

/// Writes to stderr and stdout that never crash or hang the process: a log or a progress line
/// on a full disk, a closed pipe or a stalled terminal is dropped, not fatal
/// (`FileHandle.write(_:)` traps on any write error).
public enum StandardStreams {
    /// `text` to stderr, as far as it can go.
    public static func error(_ text: String) { write(2, text) }

    /// `text` to stdout, unbuffered, as far as it can go.
    public static func output(_ text: String) { write(1, text) }

    private static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0, stalls = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
                continue
            }
            // A non-blocking stream that is full: a few tries, then the line is dropped.
            if n < 0, errno == EINTR || errno == EAGAIN, stalls < 100 {
                stalls += 1
                if errno == EAGAIN { usleep(1000) }
                continue
            }
            return
        }
    }
}
