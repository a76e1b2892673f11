import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files that appear under their final name only when complete — every writer in Gantry goes
/// through here: outputs, reports and error files, checkpoints and safetensors, training state,
/// `index.html` and curves, the watch service's worker registry.
///
/// The content goes to a hidden temporary file in the target's folder (`.NAME.gantry-PID-N.tmp`),
/// is flushed to disk (`fsync`), then *linked* into place (`createNew`: never replaces a file, so
/// two writers or a user's own file are never clobbered) or *renamed* (`replace`), and the folder
/// is flushed so the new entry survives a crash. A crash at any moment leaves at most the
/// temporary file, which `removeStaleTemporaries` deletes later; a failure removes it at once.
public enum AtomicFile {
    public enum Mode: Sendable {
        /// Fail with `.exists` when the name is taken.
        case createNew
        /// Replace whatever the name holds.
        case replace
    }

    /// Writes `data` to `url`; `createFolder` makes its folder first (outputs mirror a tree),
    /// otherwise a missing folder is an error (a run folder deleted under a trainer stays deleted).
    public static func write(_ data: Data, to url: URL, mode: Mode = .replace, createFolder: Bool = false) throws(AtomicFileError) {
        try write(to: url, mode: mode, createFolder: createFolder) { sink in try sink.write(data) }
    }

    /// Writes `text` as UTF-8.
    public static func write(_ text: String, to url: URL, mode: Mode = .replace, createFolder: Bool = false) throws(AtomicFileError) {
        try write(Data(text.utf8), to: url, mode: mode, createFolder: createFolder)
    }

    /// Streams content through `body`'s sink, so a large file is never whole in memory. An error
    /// thrown by `body` (of any type) is kept as the cause of the `.write` error it becomes.
    public static func write(to url: URL, mode: Mode = .replace, createFolder: Bool = false,
                             _ body: (Sink) throws -> Void) throws(AtomicFileError) {
        _ = try publish(url, mode: mode, keepOpen: false, createFolder: createFolder, body)
    }

    /// As `write`, but returns a read-only descriptor of the file, still open, for a file that is
    /// held (locked with `flock` on `Sink.heldFD` inside `body`, before the file appears) for as
    /// long as its writer lives. The caller closes it. Read-only, so that holding it never keeps
    /// the file system from being remounted read-only.
    public static func writeKeepingOpen(to url: URL, mode: Mode = .createNew, _ body: (Sink) throws -> Void) throws(AtomicFileError) -> Int32 {
        try publish(url, mode: mode, keepOpen: true, createFolder: false, body)
    }

    private static func publish(_ url: URL, mode: Mode, keepOpen: Bool, createFolder: Bool,
                                _ body: (Sink) throws -> Void) throws(AtomicFileError) -> Int32 {
        let dir = url.deletingLastPathComponent()
        if createFolder {
            do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
                throw AtomicFileError(.write, url, "cannot create its folder \(dir.path)", cause: error)
            }
        }
        let temporary = dir.appendingPathComponent(".\(url.lastPathComponent).gantry-\(getpid())-\(counter.next()).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AtomicFileError(.write, url, "cannot create a temporary file", errno: errno) }
        var isOpen = true
        defer { if isOpen { close(fd) } }
        let held = keepOpen ? open(temporary.path, O_RDONLY | O_CLOEXEC) : fd
        var isHeld = keepOpen
        defer { if isHeld { close(held) } }
        do throws(AtomicFileError) {
            guard held >= 0 else { throw AtomicFileError(.write, url, "cannot open the temporary file", errno: errno) }
            do { try body(Sink(fd: fd, heldFD: held, url: url)) } catch let error as AtomicFileError {
                throw error
            } catch {
                throw AtomicFileError(.write, url, "cannot write", cause: error)
            }
            if let injected = FaultInjection.errno(for: url.path) {
                throw AtomicFileError(.write, url, "cannot flush to disk", errno: injected)
            }
            guard fsync(fd) == 0 else { throw AtomicFileError(.write, url, "cannot flush to disk", errno: errno) }
            isOpen = false
            guard close(fd) == 0 else { throw AtomicFileError(.write, url, "cannot write", errno: errno) }
            switch mode {
            case .createNew:
                guard link(temporary.path, url.path) == 0 else {
                    let e = errno
                    if e == EEXIST { throw AtomicFileError(.exists, url, "already exists", errno: e) }
                    throw AtomicFileError(.write, url, "cannot move the finished file into place", errno: e)
                }
                unlink(temporary.path)
            case .replace:
                guard rename(temporary.path, url.path) == 0 else {
                    throw AtomicFileError(.write, url, "cannot move the finished file into place", errno: errno)
                }
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
        syncFolder(dir)
        isHeld = false
        return keepOpen ? held : -1
    }

    /// Makes the entries of `folder` durable (a link or rename into it survives a power cut), for
    /// callers that move finished files themselves. Best effort: the files are in place already,
    /// and some file systems (FUSE, some network mounts) refuse a folder fsync.
    public static func syncFolder(_ folder: URL) {
        let dfd = Glibc.open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Appends bytes to the temporary file.
    public struct Sink {
        /// The temporary file's descriptor (write through `write`).
        public let fd: Int32
        /// The descriptor `writeKeepingOpen` returns (for `flock`: a lock taken on `fd` ends when
        /// the write is done); `fd` itself for `write`.
        public let heldFD: Int32
        let url: URL

        public func write(_ bytes: UnsafeRawBufferPointer) throws(AtomicFileError) {
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AtomicFileError(.write, url, "cannot write", errno: errno)
                }
                offset += n
            }
        }

        public func write(_ data: Data) throws(AtomicFileError) {
            // withUnsafeBytes rethrows untyped errors: the typed one is carried out by hand.
            var failure: AtomicFileError?
            data.withUnsafeBytes { raw in
                do throws(AtomicFileError) { try write(raw) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Deletes temporary files left under `root` by Gantry processes that no longer run.
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

    private static let counter = Counter()
}

/// A write that failed: what was being written, what went wrong, and the cause — the OS error
/// (`errno`, kept as a number and in words) or the error the content's producer threw.
public struct AtomicFileError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable {
        /// `createNew` found the name taken.
        case exists
        /// The file system refused (full disk, permissions, I/O error) or the content failed.
        case write
    }

    public let code: Code
    public let path: String
    public let message: String
    public let errno: Int32?
    public let cause: (any Error)?

    init(_ code: Code, _ url: URL, _ message: String, errno: Int32? = nil, cause: (any Error)? = nil) {
        (self.code, self.path, self.message, self.errno) = (code, url.path, message, errno)
        self.cause = cause  // Error refines Sendable: any cause can cross threads.
    }

    public var description: String {
        var text = "\(path): \(message)"
        if let errno { text += " (\(String(cString: strerror(errno))))" } else if let cause { text += " (\(cause))" }
        return text
    }
}


private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.withLock { value += 1; return value } }
}

/// Test-only seam for the faults a test cannot make for real (EIO, a memory shortage): with
/// `GANTRY_TEST_FAULT_FILE=PATH`, while the file PATH holds `EIO TEXT` (or `ENOSPC TEXT`, …),
/// every atomic write to a path containing TEXT fails with that error after its data is written,
/// as a failing disk's fsync does, and so does every image read from such a path (before any
/// byte is read). Removing the file ends the fault. Nothing else sets it.
public enum FaultInjection {
    private static let file = ProcessInfo.processInfo.environment["GANTRY_TEST_FAULT_FILE"]
    private static let names: [String: Int32] = ["EIO": EIO, "ENOSPC": ENOSPC, "EROFS": EROFS, "EACCES": EACCES,
                                                 "ESTALE": ESTALE, "ENOMEM": ENOMEM]

    /// The error to fail an operation on `path` with, while a test asks for one.
    public static func errno(for path: String) -> Int32? {
        guard let file, !file.isEmpty, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let code = names[String(parts[0])], path.contains(parts[1]) else { return nil }
        return code
    }
}
