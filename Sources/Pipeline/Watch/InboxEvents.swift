import Foundation

/// New-file notifications from inotify: files closed after writing or moved in, and new
/// subfolders (which get watches of their own). Falls back to polling when inotify is not
/// available or its watch limit is exhausted.
final class InboxEvents {
    private var fd: Int32 = -1
    private var watches: [Int32: URL] = [:]
    private var watched: Set<String> = []
    /// Set when events may have been lost (queue overflow, watch limit): rescan everything.
    private(set) var needsRescan = false
    /// Why inotify is not in use, if it is not.
    private(set) var unavailable: String?

    init(usePolling: Bool) {
        if usePolling {
            unavailable = "polling requested"
            return
        }
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 { unavailable = "inotify unavailable (\(String(cString: strerror(errno))))" }
    }

    deinit { if fd >= 0 { close(fd) } }

    var isActive: Bool { unavailable == nil }

    /// The descriptor that becomes readable when events arrive (-1 when polling).
    var descriptor: Int32 { isActive ? fd : -1 }

    /// Watches `folder` (once). Exhausting the watch limit switches to polling.
    func watch(_ folder: URL) {
        guard isActive, !watched.contains(folder.path) else { return }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_Q_OVERFLOW)
        let wd = inotify_add_watch(fd, folder.path, mask)
        if wd < 0 {
            if errno == ENOSPC {
                unavailable = "the inotify watch limit is exhausted (fs.inotify.max_user_watches); polling instead"
                close(fd)
                fd = -1
            }
            return
        }
        watches[wd] = folder
        watched.insert(folder.path)
    }

    /// Paths (absolute) of files closed or moved in since the last call; new folders are watched.
    func drain() -> [URL] {
        guard isActive else { return [] }
        var out: [URL] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            while offset + 16 <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
                offset += 16 + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 { needsRescan = true; continue }
                guard let dir = watches[wd], !nameBytes.isEmpty else { continue }
                let name = String(decoding: nameBytes, as: UTF8.self)
                guard !InboxLayout.isIgnored(name) else { continue }
                let url = dir.appendingPathComponent(name)
                if mask & UInt32(IN_ISDIR) != 0 {
                    // A new folder: watch it, and rescan since files may have landed before the watch.
                    watch(url)
                    needsRescan = true
                } else if mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO) != 0 {
                    out.append(url)
                }
            }
        }
        return out
    }

    func rescanned() { needsRescan = false }
}
