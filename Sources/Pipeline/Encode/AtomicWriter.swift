import Foundation

/// Writes files that appear under their final name only once complete: data goes to a hidden
/// temporary file in the target folder, is flushed to disk, then linked (never replacing an
/// existing file) or renamed (replacing it) into place. A crash at any moment leaves at most a
/// `.NAME.gantry-PID-N.tmp` file, which `removeStaleTemporaries` deletes on the next run.
public enum AtomicWriter {
    public enum Mode: Sendable { case createNew, replace }

    private static let counter = Counter()

    public static func write(_ data: Data, to url: URL, mode: Mode) throws {
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw PipelineError(.writeFailed, "\(dir.path): cannot create folder (\(describe(error)))")
        }
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).gantry-\(getpid())-\(counter.next()).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(url, "cannot create a temporary file") }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        let savedErrno = errno
        close(fd)
        guard ok else {
            unlink(temp.path)
            errno = savedErrno
            throw failure(url, "cannot write")
        }
        switch mode {
        case .createNew:
            // link() fails if the name exists, so two writers (or a user's file) are never clobbered.
            let linked = link(temp.path, url.path) == 0
            let linkErrno = errno
            unlink(temp.path)
            guard linked else {
                if linkErrno == EEXIST {
                    throw PipelineError(.outputExists, "\(url.path): already exists (use --overwrite to replace it or --skip-existing to keep it)")
                }
                errno = linkErrno
                throw failure(url, "cannot move the finished file into place")
            }
        case .replace:
            guard rename(temp.path, url.path) == 0 else {
                let e = errno
                unlink(temp.path)
                errno = e
                throw failure(url, "cannot move the finished file into place")
            }
        }
        // Make the new directory entry itself durable.
        let dfd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    private static func failure(_ url: URL, _ what: String) -> PipelineError {
        PipelineError(.writeFailed, "\(url.path): \(what) (\(String(cString: strerror(errno))))")
    }

    /// Deletes temporary files left in `root` by Gantry processes that no longer run.
    @discardableResult
    public static func removeStaleTemporaries(under root: URL) -> Int {
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return 0 }
        var removed = 0
        for case let url as URL in e {
            let name = url.lastPathComponent
            guard name.hasPrefix("."), name.hasSuffix(".tmp"), let r = name.range(of: ".gantry-") else { continue }
            let pidText = name[r.upperBound...].prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            if (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
        }
        return removed
    }
}

private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.withLock { value += 1; return value } }
}
