import AtomicFiles
import Foundation
import Pipeline
import Testing
import TestSupport

struct DiscoveryTests {
    @Test func mirrorsTreeAndResolvesNameClashesDeterministically() throws {
        let root = try TemporaryDirectory()
        try root.write("a/b/photo.jpg", "x")
        try root.write("a/b/photo.png", "x")
        try root.write("a/b/photo.JPEG", "x")
        try root.write("top.png", "x")
        try root.write("notes.txt", "x")
        try root.write(".hidden.jpg", "x")
        try root.write(".cache/x.jpg", "x")
        let out = root.url.appendingPathComponent("out")
        let d = try Discovery.discover(input: root.url, output: out, plan: .files(.png))
        let names = d.items.map { $0.output.path.replacingOccurrences(of: out.path + "/", with: "") }
        // Byte order puts "photo.JPEG" before "photo.jpg" before "photo.png": the first keeps the name.
        #expect(names == ["a/b/photo.png", "a/b/photo-jpg.png", "a/b/photo-png.png", "top.png"])
        #expect(d.renamed.count == 2)
        #expect(d.nonImages == ["notes.txt"])
        let again = try Discovery.discover(input: root.url, output: out, plan: .files(.png))
        #expect(again.items == d.items)
    }

    @Test func suffixAndSameFormat() throws {
        let root = try TemporaryDirectory()
        try root.write("p.jpeg", "x")
        try root.write("q.png", "x")
        let d = try Discovery.discover(input: root.url, output: root.url.appendingPathComponent("o"), plan: .files(.same, suffix: "_z"))
        #expect(d.items.map(\.output.lastPathComponent) == ["p_z.jpg", "q_z.png"])
    }

    @Test func outputFolderInsideInputIsNotAnInput() throws {
        let root = try TemporaryDirectory()
        try root.write("in.png", "x")
        try root.write("out/old.png", "x")
        let d = try Discovery.discover(input: root.url, output: root.url.appendingPathComponent("out"), plan: .files(.png))
        #expect(d.items.map(\.relativePath) == ["in.png"])
    }

    @Test func shardsPartitionTheFolder() throws {
        let root = try TemporaryDirectory()
        for i in 0..<60 { try root.write("d\(i % 4)/img\(i).jpg", "x") }
        let out = root.url.appendingPathComponent("out")
        let all = Set(try Discovery.discover(input: root.url, output: out, plan: .files(.png)).items.map(\.relativePath))
        var seen: [String] = []
        for i in 0..<3 {
            seen += try Discovery.discover(input: root.url, output: out, plan: .files(.png, shard: Shard("\(i)/3")!)).items.map(\.relativePath)
        }
        #expect(seen.count == all.count)
        #expect(Set(seen) == all)
        #expect(Shard("3/3") == nil && Shard("1/0") == nil && Shard("x") == nil)
    }

    @Test func symlinkLoopsAndDanglingLinksAreReportedNotFollowedForever() throws {
        let root = try TemporaryDirectory()
        try root.write("a/img.png", "x")
        try FileManager.default.createSymbolicLink(atPath: root.url.appendingPathComponent("a/loop").path,
                                                   withDestinationPath: root.url.appendingPathComponent("a").path)
        try FileManager.default.createSymbolicLink(atPath: root.url.appendingPathComponent("gone.png").path,
                                                   withDestinationPath: "/nonexistent/x.png")
        let d = try Discovery.discover(input: root.url, output: root.url.appendingPathComponent("out"), plan: .files(.png))
        #expect(d.items.map(\.relativePath) == ["a/img.png"])
        #expect(d.problems.contains { $0.path == "a/loop" && $0.reason.contains("loop") })
        #expect(d.problems.contains { $0.path == "gone.png" })
    }
}

extension ConversionPlan {
    /// A plan with these naming settings and every other default.
    static func files(_ format: OutputFormat, suffix: String = "", shard: Shard? = nil) -> ConversionPlan {
        var plan = ConversionPlan()
        (plan.format, plan.suffix, plan.shard) = (format, suffix, shard)
        return plan
    }
}

struct AtomicWriterTests {
    @Test func createNewNeverReplaces() throws {
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("sub/out.png")
        try AtomicWriter.write(Data("one".utf8), to: url, mode: .createNew)
        #expect(throws: PipelineError.self) { try AtomicWriter.write(Data("two".utf8), to: url, mode: .createNew) }
        #expect(try String(contentsOf: url, encoding: .utf8) == "one")
        try AtomicWriter.write(Data("three".utf8), to: url, mode: .replace)
        #expect(try String(contentsOf: url, encoding: .utf8) == "three")
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["out.png"])
    }

    @Test func staleTemporariesOfDeadProcessesAreRemoved() throws {
        let dir = try TemporaryDirectory()
        try dir.write(".x.png.gantry-999999-1.tmp", "partial")
        try dir.write(".y.png.gantry-\(getpid())-1.tmp", "mine")
        try dir.write("keep.png", "done")
        #expect(AtomicWriter.removeStaleTemporaries(under: dir.url) == 1)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.url.path))
        #expect(left == [".y.png.gantry-\(getpid())-1.tmp", "keep.png"])
    }
}

/// `AtomicFile`, which every writer uses: whole or nothing, no temporaries left, the cause kept.
struct AtomicFileTests {
    struct ProducerFailed: Error, Sendable {}

    /// A failing producer leaves neither the file nor a temporary, and its error is the cause.
    @Test func aFailedWriteLeavesNothingAndKeepsItsCause() throws {
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("state.json")
        #expect { try AtomicFile.write(to: url) { sink in try sink.write(Data("half".utf8)); throw ProducerFailed() } } throws: {
            guard let e = $0 as? AtomicFileError else { return false }
            return e.code == .write && e.path == url.path && e.cause is ProducerFailed && e.errno == nil
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    /// The OS's refusal keeps its errno and the path: renaming over a folder is EISDIR.
    @Test func anOSErrorKeepsErrnoAndPath() throws {
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        #expect { try AtomicFile.write("x", to: url) } throws: {
            guard let e = $0 as? AtomicFileError else { return false }
            return e.code == .write && e.path == url.path && e.errno == EISDIR && "\(e)".contains("Is a directory")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["taken"])
        // A folder that cannot be made (a file is in the way) keeps Foundation's error as the cause;
        // without createFolder a missing folder is ENOENT.
        try dir.write("file", "x")
        #expect { try AtomicFile.write("x", to: dir.url.appendingPathComponent("file/child"), createFolder: true) } throws: {
            ($0 as? AtomicFileError)?.cause != nil
        }
        #expect { try AtomicFile.write("x", to: dir.url.appendingPathComponent("none/child")) } throws: {
            ($0 as? AtomicFileError)?.errno == ENOENT
        }
    }

    /// `createNew` never replaces; a held file is published with its descriptor still open.
    @Test func createNewAndKeepingOpen() throws {
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("worker")
        let fd = try AtomicFile.writeKeepingOpen(to: url) { sink in
            #expect(flock(sink.heldFD, LOCK_EX | LOCK_NB) == 0)
            try sink.write(Data("pid=1\n".utf8))
        }
        defer { close(fd) }
        #expect(fcntl(fd, F_GETFD) >= 0)
        // Read-only, and still holding the lock the writer took.
        #expect(fcntl(fd, F_GETFL) & O_ACCMODE == O_RDONLY)
        let other = open(url.path, O_RDONLY)
        defer { close(other) }
        #expect(flock(other, LOCK_EX | LOCK_NB) != 0)
        #expect(try String(contentsOf: url, encoding: .utf8) == "pid=1\n")
        #expect { try AtomicFile.write("other", to: url, mode: .createNew) } throws: { ($0 as? AtomicFileError)?.code == .exists }
        #expect(try String(contentsOf: url, encoding: .utf8) == "pid=1\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["worker"])
    }
}
