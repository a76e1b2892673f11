import Foundation
import Imaging

/// One image to convert: where it comes from and where its result goes.
public struct ConvertItem: Sendable, Equatable {
    public var input: URL
    /// Path below the input root ("a/b/photo.jpg"); the file name for a single-file input.
    public var relativePath: String
    public var output: URL
}

/// Output file type: PNG, JPEG, or the input's own.
public enum OutputFormat: String, Sendable, CaseIterable {
    case png, jpg, tiff, webp, same
}

/// Every image below an input folder, in a stable order, with its output path decided.
public struct Discovery: Sendable {
    public var items: [ConvertItem] = []
    /// Files that are not images by name (counted and reported as skipped).
    public var nonImages: [String] = []
    /// Files named as images of a format Gantry does not read, with the format's name ("BMP").
    public var unsupported: [(path: String, format: String)] = []
    /// Files or folders that could not be walked (symlink loops, unreadable folders), with the reason.
    public var problems: [(path: String, reason: String)] = []
    /// Inputs whose natural output name was taken by an earlier input, with the name they got instead.
    public var renamed: [(input: String, output: String)] = []

    public static let imageExtensions = Set(ImageFormat.extensions.keys)


    /// Walks `input` (a folder, recursively, or a single file) and maps each image to
    /// `<output>/<relative dir>/<stem><suffix>.<ext>` (`OutputNaming`), with the plan's format,
    /// suffix and shard.
    ///
    /// Names are decided over the whole folder before sharding, so every shard of a split job
    /// agrees on them. When two inputs map to one name (`a.jpg` and `a.png` → `a.png`), the first
    /// in path order keeps it and the others become `a-jpg.png`-style names, reported in `renamed`.
    public static func discover(input: URL, output: URL, plan: ConversionPlan) throws -> Discovery {
        let (format, suffix) = (plan.format, plan.suffix)
        if let problem = OutputNaming.suffixProblem(suffix) { throw PipelineError(.invalidDefinition, "suffix '\(suffix)' \(problem)") }
        var d = Discovery()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input.path, isDirectory: &isDir) else {
            throw PipelineError(.inputMissing, "\(input.path): no such file or folder")
        }
        if !isDir.boolValue, let name = ImageFormat.unsupportedName(forExtension: input.pathExtension) {
            throw PipelineError(.unsupportedFormat, "\(input.path): \(name) is not a format Gantry reads (it reads \(ImageFormat.supportedList)); convert the file to one of those first")
        }
        if let name = ImageFormat.unsupportedName(forExtension: output.pathExtension), !Self.isFolder(output) {
            throw PipelineError(.invalidDefinition, "-o \(output.path): Gantry cannot write \(name) files; name a .png, .jpg, .tif or .webp file, or a folder")
        }
        var files: [(url: URL, rel: String)] = []
        var st = stat()
        if !isDir.boolValue, stat(input.path, &st) == 0, let kind = ImageCodec.nonRegularKind(st.st_mode) {
            throw PipelineError(.inputMissing, "\(input.path): not a regular file or a folder (\(kind)); give an image file or a folder of them")
        }
        if isDir.boolValue {
            var visited = Set<FileID>()
            walk(input, relative: "", excluding: output.standardizedFileURL.path, visited: &visited, into: &files, discovery: &d)
        } else {
            files = [(input, input.lastPathComponent)]
        }
        files.sort { $0.rel.utf8.lexicographicallyPrecedes($1.rel.utf8) }
        var taken = Set<String>()
        let singleFileTarget = !isDir.boolValue && imageExtensions.contains(output.pathExtension.lowercased())
        for (url, rel) in files {
            let ext = url.pathExtension.lowercased()
            guard imageExtensions.contains(ext) else {
                // A BMP or HEIC is named as what it is, not hidden among text files.
                if let name = ImageFormat.unsupportedName(forExtension: ext) { d.unsupported.append((rel, name)) } else { d.nonImages.append(rel) }
                continue
            }
            if singleFileTarget {
                d.items.append(ConvertItem(input: url, relativePath: rel, output: output))
                continue
            }
            let dir = (rel as NSString).deletingLastPathComponent, stem = OutputNaming.stem(rel)
            var name = OutputNaming.name(stem: stem, suffix: suffix, format: format, input: rel)
            var key = (dir as NSString).appendingPathComponent(name).lowercased()
            if taken.contains(key) {
                // photo.jpg and photo.png both want photo.png: the later one says where it came from.
                let base = OutputNaming.name(stem: stem, suffix: suffix + "-" + ext, format: format, input: rel)
                for n in 0... {
                    name = UniqueName.numbered(base, n == 0 ? 0 : n + 1)
                    key = (dir as NSString).appendingPathComponent(name).lowercased()
                    if !taken.contains(key) { break }
                }
                d.renamed.append((rel, (dir as NSString).appendingPathComponent(name)))
            }
            taken.insert(key)
            let out = output.appendingPathComponent(dir).appendingPathComponent(name)
            d.items.append(ConvertItem(input: url, relativePath: rel, output: out))
        }
        if let shard = plan.shard { d.items = d.items.filter { shard.contains($0.relativePath) } }
        return d
    }

    private struct FileID: Hashable { var device: UInt64; var inode: UInt64 }

    private static func isFolder(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    /// "2 files in formats Gantry does not read: .bmp ×1, .heic ×1", or nil when there are none.
    public var unsupportedSummary: String? {
        guard !unsupported.isEmpty else { return nil }
        var counts: [String: Int] = [:]
        for (path, _) in unsupported { counts["." + (path as NSString).pathExtension.lowercased(), default: 0] += 1 }
        let parts = counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
        return "\(unsupported.count) file\(unsupported.count == 1 ? "" : "s") in formats Gantry does not read: \(parts.joined(separator: ", "))"
    }

    private static func walk(_ dir: URL, relative: String, excluding excluded: String, visited: inout Set<FileID>,
                             into files: inout [(url: URL, rel: String)], discovery d: inout Discovery) {
        var st = stat()
        guard stat(dir.path, &st) == 0 else {
            d.problems.append((relative.isEmpty ? dir.path : relative, String(cString: strerror(errno))))
            return
        }
        // A folder reached twice through symlinks would be walked forever.
        let id = FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        guard visited.insert(id).inserted else {
            d.problems.append((relative, "symlink loop: this folder is already being walked"))
            return
        }
        defer { visited.remove(id) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        } catch {
            d.problems.append((relative.isEmpty ? dir.path : relative, "cannot list folder (\(describe(error)))"))
            return
        }
        for name in names where !name.hasPrefix(".") {
            let url = dir.appendingPathComponent(name)
            let rel = relative.isEmpty ? name : relative + "/" + name
            if url.standardizedFileURL.path == excluded { continue }
            var s = stat()
            if stat(url.path, &s) != 0 {
                let reason = errno == ELOOP ? "symlink loop" : String(cString: strerror(errno))
                d.problems.append((rel, reason))
                continue
            }
            if (s.st_mode & S_IFMT) == S_IFDIR {
                walk(url, relative: rel, excluding: excluded, visited: &visited, into: &files, discovery: &d)
            } else if (s.st_mode & S_IFMT) == S_IFREG {
                files.append((url, rel))
            } else if imageExtensions.contains(url.pathExtension.lowercased()), let kind = ImageCodec.nonRegularKind(s.st_mode) {
                // Named like an image but a pipe or device: reading it could block or never end.
                d.problems.append((rel, "\(kind), not a regular file"))
            }
        }
    }
}

/// `--shard I/N`: a deterministic 1/N of the files by relative path, so N machines or containers
/// can split a folder with no coordination.
public struct Shard: Sendable, Equatable {
    public var index: Int
    public var count: Int

    public init?(_ text: String) {
        let p = text.split(separator: "/").compactMap { Int($0) }
        guard p.count == 2, p[1] >= 1, p[0] >= 0, p[0] < p[1] else { return nil }
        (index, count) = (p[0], p[1])
    }

    /// FNV-1a of the path's UTF-8 bytes: stable across machines, runs and Swift versions
    /// (Swift's own hashing is seeded per process).
    public func contains(_ relativePath: String) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in relativePath.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(h % UInt64(count)) == index
    }
}

func describe(_ error: Error) -> String {
    if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError {
        return String(cString: strerror(Int32(u.code)))
    }
    return (error as NSError).localizedDescription
}
