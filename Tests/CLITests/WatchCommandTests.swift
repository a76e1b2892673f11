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

        init(_ inbox: String, _ outbox: String, _ extra: [String] = [], log: URL) throws {
            self.log = log
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.executableURL = gantryExecutable
            process.arguments = ["watch", inbox, "-o", outbox, "-m", WatchCommandTests.model, "--settle", "1", "--rescan", "1"] + extra
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardError = handle
            process.standardOutput = handle
            try process.run()
        }

        func terminate() -> Int32 {
            // As a supervisor would: once the service has started.
            _ = WatchCommandTests.waitUntil(20) {
                ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains(" started ") || !process.isRunning
            }
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            return process.terminationStatus
        }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
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
        var random = SystemRandomNumberGenerator()
        for round in 0..<8 {
            let s = try Service(dir.path("in"), dir.path("out"), log: dir.url.appendingPathComponent("r\(round).log"))
            usleep(UInt32.random(in: 300_000...1_200_000, using: &random))
            s.kill9()
        }
        let last = try Service(dir.path("in"), dir.path("out"), log: dir.url.appendingPathComponent("last.log"))
        let finished = Self.waitUntil(90) {
            Self.files(dir.path("in/.done")).count == n && Self.files(dir.path("in/.processing")).isEmpty
        }
        #expect(finished)
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
        let port = UInt16.random(in: 20_000...40_000)
        let s = try Service(dir.path("in"), dir.path("out"), ["--status-port", String(port), "--log-format", "json"],
                            log: dir.url.appendingPathComponent("log"))
        let image = try TestImages.png(width: 8, height: 8)
        for i in 0..<500 { try dir.write("in/b\(i).png", image) }
        try dir.write("in/junk.jpg", "junk")
        let all = Self.waitUntil(240) { Self.files(dir.path("in/.done")).count == 500 || !s.process.isRunning }
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
