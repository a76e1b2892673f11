import AtomicFiles
import CGantrySystem
import Foundation

/// The folders a watched inbox uses and the file-system moves between them.
///
/// Everything a worker owns lives inside the inbox (same file system, so a rename is atomic):
/// `.processing/<claim>/` holds claimed inputs, `.workers/` one heartbeat file per running worker.
/// Results go to the outbox through `.gantry-work/` there (see `WatchService` for the protocol).
public struct InboxLayout: Sendable {
    public var inbox: URL
    public var outbox: URL
    public var done: URL
    public var failed: URL

    public var processing: URL { inbox.appendingPathComponent(".processing") }
    public var workers: URL { inbox.appendingPathComponent(".workers") }
    public var work: URL { outbox.appendingPathComponent(".gantry-work") }

    public init(inbox: URL, outbox: URL, done: URL? = nil, failed: URL? = nil) {
        self.inbox = inbox.standardizedFileURL
        self.outbox = outbox.standardizedFileURL
        self.done = (done ?? inbox.appendingPathComponent(".done")).standardizedFileURL
        self.failed = (failed ?? inbox.appendingPathComponent(".failed")).standardizedFileURL
    }

    /// Refuses folders that would feed results back in: an outbox, done or failed folder that is
    /// the inbox or below it (outside a hidden folder) would have its files taken as new inputs.
    public func validate() throws {
        let root = inbox.resolvingSymlinksInPath().pathComponents
        for (flag, url) in [("-o", outbox), ("--done", done), ("--failed", failed)] {
            let parts = url.resolvingSymlinksInPath().pathComponents
            guard parts.count >= root.count, Array(parts.prefix(root.count)) == root else { continue }
            let below = parts.dropFirst(root.count)
            if !below.contains(where: { $0.hasPrefix(".") }) {
                throw PipelineError(.invalidDefinition, "\(flag) \(url.path) is \(below.isEmpty ? "the inbox itself" : "inside the inbox"): its files would be taken as new inputs; choose a folder outside \(inbox.path)")
            }
        }
    }

    public func createFolders() throws {
        for dir in [inbox, outbox, done, failed, processing, workers, work] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }
    }

    /// Names that are never inputs: hidden files, and what browsers, rsync and editors write
    /// while a file is still arriving.
    public static func isIgnored(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasPrefix("~$") || name.hasSuffix(".tmp") || name.hasSuffix(".part")
            || name.hasSuffix(".crdownload") || name.hasSuffix(".partial")
    }

    /// Regular files below the inbox (relative paths), skipping hidden and temporary names and
    /// the worker folders; `folders` receives every subfolder (for inotify watches).
    public func scan(folders: inout [URL]) -> [String] {
        var out: [String] = []
        func walk(_ dir: URL, _ rel: String, depth: Int) {
            guard depth < 32, let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
            for name in names where !Self.isIgnored(name) {
                let url = dir.appendingPathComponent(name)
                let r = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard lstat(url.path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    if [done, failed, outbox].contains(where: { $0.path == url.standardizedFileURL.path }) { continue }
                    folders.append(url)
                    walk(url, r, depth: depth + 1)
                case S_IFREG: out.append(r)
                default: continue
                }
            }
        }
        folders.append(inbox)
        walk(inbox, "", depth: 0)
        return out.sorted()
    }

    /// Moves `source` to `folder/relative`, adding `-1`, `-2`, … before the extension when the
    /// name is taken: nothing is ever overwritten. Returns where it went.
    @discardableResult
    public static func moveUnique(_ source: URL, into folder: URL, relative: String) throws -> URL {
        let target = folder.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        for candidate in UniqueName.candidates(target) {
            // rename would silently replace an existing file; RENAME_NOREPLACE refuses instead,
            // and unlike link + unlink leaves no moment with the file in both places.
            if gantry_rename_noreplace(source.path, candidate.path) == 0 {
                AtomicFile.syncFolder(candidate.deletingLastPathComponent())
                return candidate
            }
            if errno == EXDEV {
                // Another file system: copy to a temporary name, then link that into place.
                let temp = folder.appendingPathComponent(".gantry-move-\(getpid())-\(UUID().uuidString)")
                try FileManager.default.copyItem(at: source, to: temp)
                defer { unlink(temp.path) }
                // The copy on disk before the original goes: a power cut must not leave only a
                // truncated copy.
                let fd = open(temp.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0, fsync(fd) == 0 else {
                    let code = errno
                    if fd >= 0 { close(fd) }
                    throw PipelineError.failed(.writeFailed, "\(candidate.path): cannot flush the copy of \(source.path) to disk", errno: code)
                }
                close(fd)
                if link(temp.path, candidate.path) == 0 {
                    AtomicFile.syncFolder(candidate.deletingLastPathComponent())
                    unlink(source.path)
                    return candidate
                }
            }
            guard errno == EEXIST else {
                throw PipelineError.failed(.writeFailed, "\(source.path): cannot move to \(candidate.path)", errno: errno)
            }
        }
        throw PipelineError(.writeFailed, "\(target.path): no free name")
    }
}
