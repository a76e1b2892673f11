import Foundation
import Imaging
import Testing
import TestSupport

/// `gantry watch` as a real process on real folders: partial writes, renames, corrupt files,
/// several workers, kill -9 and restarts, SIGTERM, bursts.
@Suite(.serialized)
struct WatchCommandTests {
    static let model = ConvertCommandTests.model

    final class Service {
        let process = Process()
        let log: URL
        private let launched: Bool

        /// `launcher` runs gantry through another program (`unshare ...`); signals then go to
        /// gantry itself, not to the launcher. A launcher that `execs` gantry (`setpriv`) is
        /// gantry's own process.
        init(_ inbox: String, _ outbox: String, _ extra: [String] = [], environment: [String: String] = [:],
             launcher: [String] = [], execs: Bool = false, log: URL) throws {
            self.log = log
            launched = !launcher.isEmpty && !execs
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let arguments = ["watch", inbox, "-o", outbox, "-m", WatchCommandTests.model, "--settle", "1", "--rescan", "1"] + extra
            if let program = launcher.first {
                process.executableURL = URL(fileURLWithPath: program)
                process.arguments = Array(launcher.dropFirst()) + [gantryExecutable.path] + arguments
            } else {
                process.executableURL = gantryExecutable
                process.arguments = arguments
            }
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardError = handle
            process.standardOutput = handle
            try process.run()
        }

        var text: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// The gantry process (a launcher's child is found through /proc).
        var workerPID: pid_t {
            guard launched else { return process.processIdentifier }
            var child: pid_t = 0
            _ = WatchCommandTests.waitUntil(20) {
                child = WatchCommandTests.children(of: process.processIdentifier).first ?? 0
                return child != 0 || !process.isRunning
            }
            return child
        }

        func terminate() -> Int32 {
            // As a supervisor would: once the service has started.
            _ = WatchCommandTests.waitUntil(20) { text.contains(" started ") || !process.isRunning }
            let pid = workerPID
            if pid > 0 { kill(pid, SIGTERM) }
            process.waitUntilExit()
            return process.terminationStatus
        }

        func kill9() {
            let pid = workerPID
            if pid > 0 { kill(pid, SIGKILL) }
            process.waitUntilExit()
        }

        /// Waits for the process to end by itself; kills it if it does not.
        func exits(within seconds: Double) -> Bool {
            let exited = WatchCommandTests.waitUntil(seconds) { !process.isRunning }
            if !exited { kill9() }
            process.waitUntilExit()
            return exited
        }
    }

    static func children(of parent: pid_t) -> [pid_t] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { pid_t($0) } ?? []
        return pids.filter { pid in
            // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent
        }
    }

    /// The port the service logged for its status server (`--status-port 0`).
    static func statusPort(_ service: Service) -> UInt16? {
        var port: UInt16?
        _ = waitUntil(30) {
            let text = service.text
            for marker in ["status address=", "\"address\":\""] {
                if let r = text.range(of: marker) {
                    let address = text[r.upperBound...].prefix { $0 != " " && $0 != "\"" && $0 != "\n" }
                    port = address.split(separator: ":").last.flatMap { UInt16($0) }
                }
            }
            return port != nil || !service.process.isRunning
        }
        return port
    }

    static func files(_ dir: String, suffix: String = "") -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? [])
            .filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } && $0.hasSuffix(suffix) }
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: dir + "/" + $0, isDirectory: &d) && !d.boolValue }
            .sorted()
    }

    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    /// With inotify, and in polling mode (for mounts that send no events).
    @Test(arguments: [[String](), ["--poll", "0.5"]])
    func convertsArrivalsAndSortsInputsIntoDoneAndFailed(_ mode: [String]) throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let service = try Service(dir.path("in"), dir.path("out"), mode, log: dir.url.appendingPathComponent("log"))
        usleep(500_000)
        // A plain copy, a rename into the inbox, a file in a new subfolder, a slow partial write.
        try dir.write("in/copied.png", TestImages.png(width: 20, height: 16))
        try dir.write("staging/renamed.jpg", TestImages.jpeg(width: 24, height: 16))
        rename(dir.path("staging/renamed.jpg"), dir.path("in/renamed.jpg"))
        try dir.write("in/sub/deep.png", TestImages.png(width: 12, height: 12, seed: 3))
        let slow = try TestImages.png(width: 40, height: 30, seed: 5)
        let handle = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: dir.path("in/slow.png"), contents: nil); return dir.path("in/slow.png") }())!
        handle.write(slow.prefix(slow.count / 2))
        usleep(150_000)
        handle.write(slow.dropFirst(slow.count / 2))
        try handle.close()
        // Ignored names, and a corrupt file.
        try dir.write("in/download.jpg.crdownload", "partial")
        try dir.write("in/.hidden.png", "x")
        try dir.write("in/broken.jpg", "<html>not an image</html>")
        let all = Self.waitUntil(30) {
            Self.files(dir.path("out")).count == 4 && Self.files(dir.path("in/.failed")).count == 2
        }
        let log = (try? String(contentsOfFile: dir.path("log"), encoding: .utf8)) ?? ""
        #expect(all, "\(log)")
        #expect(service.terminate() == 0)
        #expect(Self.files(dir.path("out")) == ["copied.png", "renamed.png", "slow.png", "sub/deep.png"])
        #expect(Self.files(dir.path("in/.done")) == ["copied.png", "renamed.jpg", "slow.png", "sub/deep.png"])
        #expect(Self.files(dir.path("in/.failed")) == ["broken.jpg", "broken.jpg.error.json"])
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path("in/.failed/broken.jpg.error.json")))) as! [String: Any]
        #expect((report["reason"] as? String)?.contains("not an image") == true)
        #expect(FileManager.default.fileExists(atPath: dir.path("in/download.jpg.crdownload")))
        #expect(FileManager.default.fileExists(atPath: dir.path("in/.hidden.png")))
        let slowOut = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: dir.path("out/slow.png"))), path: "slow")
        #expect((slowOut.width, slowOut.height) == (40, 30))
    }

    /// Times outside 0…a day, infinite or NaN are usage errors (NaN passed every comparison and
    /// `--settle nan` hung the shutdown; an infinite settle never takes a file).
    @Test(arguments: [["--settle", "nan"], ["--settle", "inf"], ["--settle", "1e300"], ["--poll", "nan"], ["--poll", "0"],
                      ["--grace", "100000"], ["--grace", "nan"], ["--rescan", "0"]])
    func absurdTimesAreUsageErrors(_ args: [String]) throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let r = try runGantry(["watch", dir.path("in"), "-o", dir.path("out"), "-m", Self.model] + args)
        #expect(r.status == 64 && r.stderr.contains("\(args[0]) must be a number of seconds"), "\(args): \(r.stderr)")
    }

    /// Results must not land where they would be taken as inputs again (the same file was
    /// converted over and over with `-o` the inbox); hidden folders inside the inbox are fine.
    @Test func foldersThatFeedResultsBackInAreRefused() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        for (flag, folder, what) in [("-o", "in", "the inbox itself"), ("-o", "in/results", "inside the inbox"), ("--done", "in/finished", "inside the inbox")] {
            var args = ["watch", dir.path("in"), "-m", Self.model]
            if flag != "-o" { args += ["-o", dir.path("out")] }
            args += [flag, dir.path(folder)]
            let r = try runGantry(args)
            #expect(r.status == 64 && r.stderr.contains("\(flag) \(dir.path(folder)) is \(what)"), "\(args): \(r.stderr)")
        }
    }

    @Test func twoWorkersNeverTakeTheSameFile() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<40 { try dir.write("in/f\(i).png", TestImages.png(width: 16, height: 16, seed: i)) }
        let a = try Service(dir.path("in"), dir.path("out"), log: dir.url.appendingPathComponent("a.log"))
        let b = try Service(dir.path("in"), dir.path("out"), log: dir.url.appendingPathComponent("b.log"))
        #expect(Self.waitUntil(60) { Self.files(dir.path("in/.done")).count == 40 })
        #expect(a.terminate() == 0 && b.terminate() == 0)
        let outs = Self.files(dir.path("out"))
        #expect(outs.count == 40)
        #expect(outs.allSatisfy { !$0.contains("-") }, "a file was converted twice: \(outs)")
    }

    @Test func killedWorkersLoseNothingAndDuplicateNothing() throws {
        let dir = try TemporaryDirectory()
        let n = 200
        for i in 0..<n { try dir.write("in/k\(i).png", TestImages.png(width: 48, height: 40, seed: i)) }
        var random = TestRandom("killedWorkersLoseNothingAndDuplicateNothing")
        for round in 0..<8 {
            let s = try Service(dir.path("in"), dir.path("out"), log: dir.url.appendingPathComponent("r\(round).log"))
            usleep(UInt32.random(in: 300_000...1_200_000, using: &random))
            s.kill9()
        }
        let last = try Service(dir.path("in"), dir.path("out"), log: dir.url.appendingPathComponent("last.log"))
        let finished = Self.waitUntil(90) {
            Self.files(dir.path("in/.done")).count == n && Self.files(dir.path("in/.processing")).isEmpty
        }
        #expect(finished, "seed \(random.seed)")
        #expect(last.terminate() == 0)
        let outs = Self.files(dir.path("out"))
        #expect(outs.count == n, "outputs: \(outs.count)")
        #expect(outs.allSatisfy { !$0.contains("-") }, "duplicated outputs: \(outs.filter { $0.contains("-") })")
        for o in outs {
            let img = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: dir.path("out/" + o))), path: o)
            #expect((img.width, img.height) == (48, 40), "\(o) is incomplete")
        }
        #expect(Self.files(dir.path("in/.done")).count == n)
        #expect(Self.files(dir.path("in")).filter { !$0.hasPrefix(".") }.isEmpty)
    }

    @Test func sigtermWhileBusyFinishesInFlightAndExitsZero() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<20 { try dir.write("in/t\(i).png", TestImages.png(width: 64, height: 64, seed: i)) }
        let s = try Service(dir.path("in"), dir.path("out"), log: dir.url.appendingPathComponent("log"))
        _ = Self.waitUntil(20) { !Self.files(dir.path("out")).isEmpty }
        #expect(s.terminate() == 0)
        // Nothing is left half-done: every claimed file was finished.
        #expect(Self.files(dir.path("in/.processing")).isEmpty)
        #expect(Self.files(dir.path("out")).count == Self.files(dir.path("in/.done")).count)
        #expect(try String(contentsOfFile: dir.path("log"), encoding: .utf8).contains("stopped unfinished=0"))
    }

    @Test func burstOfFiveHundredFiles() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let s = try Service(dir.path("in"), dir.path("out"), ["--status-port", "0", "--log-format", "json"],
                            log: dir.url.appendingPathComponent("log"))
        let port = try #require(Self.statusPort(s), "no status port in the log:\n\(s.text)")
        let image = try TestImages.png(width: 8, height: 8)
        for i in 0..<500 { try dir.write("in/b\(i).png", image) }
        try dir.write("in/junk.jpg", "junk")
        // The junk file settles and fails in its own time: wait for it too, not just the 500.
        let all = Self.waitUntil(240) {
            (Self.files(dir.path("in/.done")).count == 500
                && (httpGet(port: port, path: "/metrics") ?? "").contains("gantry_files_failed_total 1"))
                || !s.process.isRunning
        }
        #expect(all)
        let metrics = httpGet(port: port, path: "/metrics") ?? ""
        #expect(metrics.contains("gantry_files_processed_total 500"))
        #expect(metrics.contains("gantry_files_failed_total 1"))
        #expect(httpGet(port: port, path: "/healthz") == "ok\n")
        #expect(s.terminate() == 0)
        #expect(Self.files(dir.path("out")).count == 500)
        let lines = try String(contentsOfFile: dir.path("log"), encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("\"event\":\"converted\"") }.count == 500)
    }
}
