import Foundation
import Imaging
import Testing
import TestSupport

/// Faults of the folders themselves, made for real under the real binary: an inbox that turns
/// read-only (claiming fails), an outbox or inbox unmounted under a running watch and mounted
/// again (bind mounts of a tmpfs), a held file deleted by a person, an input the disk cannot read
/// (EIO through the seam), and a scratch folder that fills during streamed inference. Needs root
/// to mount; says so when it cannot.
@Suite(.serialized)
struct FolderFaultCommandTests {
    typealias Service = WatchCommandTests.Service

    static func files(_ dir: String) -> [String] { WatchCommandTests.files(dir) }
    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool { WatchCommandTests.waitUntil(seconds, condition) }

    /// Moves test photos named `names` into `inbox` through `staging` (on the inbox's file system).
    static func drop(_ names: [String], staging: String, inbox: String, side: Int = 32) throws {
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        for (i, name) in names.enumerated() {
            try TestImages.png(width: side, height: side, seed: 200 + i).write(to: URL(fileURLWithPath: staging + "/" + name))
            #expect(rename(staging + "/" + name, inbox + "/" + name) == 0)
        }
    }

    static func unmountLater(_ path: String) {
        if FaultMount.isMounted(path) { try? FaultMount.unmount(path) }
    }

    /// Claiming fails while the inbox is read-only: one fault line naming the claim folder,
    /// /healthz degraded, the files stay in the inbox (none failed), and once it is writable
    /// again a probe claims one and the rest follow, each converted once.
    @Test func aReadOnlyInboxIsAFaultNotAFailure() throws {
        guard let disk = FaultCommandTests.mount(8 << 20, for: "a read-only inbox") else { return }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: disk.path("in"), withIntermediateDirectories: true)
        let inbox = dir.path("in")
        try FaultMount.bind(disk.path("in"), at: inbox)
        defer { Self.unmountLater(inbox) }
        let service = try Service(inbox, dir.path("out"), ["--status-port", "0"], log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        let port = try #require(WatchCommandTests.statusPort(service), "\(service.text)")
        try FaultMount.setBoundReadOnly(inbox, true)
        try Self.drop(["p0.png", "p1.png", "p2.png"], staging: disk.path("staging"), inbox: disk.path("in"))
        #expect(Self.waitUntil(60) { service.text.contains(" fault ") }, "\(service.text)")
        #expect(service.text.contains("Read-only file system") && service.text.contains(inbox + "/.processing"), "\(service.text)")
        #expect(httpGet(port: port, path: "/healthz")?.hasPrefix("degraded: ") == true)
        #expect(Self.waitUntil(20) {
            (FaultCommandTests.metric("gantry_retries_total", httpGet(port: port, path: "/metrics") ?? "") ?? 0) >= 2
        })
        #expect(service.text.components(separatedBy: " fault ").count == 2, "one line for the fault, none per retry: \(service.text)")
        #expect(Self.files(disk.path("in")) == ["p0.png", "p1.png", "p2.png"])

        try FaultMount.setBoundReadOnly(inbox, false)
        #expect(Self.waitUntil(90) { Self.files(inbox + "/.done").count == 3 }, "\(service.text)")
        FaultCommandTests.expectExactlyOnce(3, dir: dir, outbox: dir.path("out"), log: service.text)
        #expect(service.text.contains(" fault-cleared "), "\(service.text)")
        #expect(httpGet(port: port, path: "/healthz") == "ok\n")
        #expect(service.terminate() == 0)
    }

    /// The outbox unmounted under a running watch: a fault at once (its work folder is gone),
    /// nothing written into the empty mount point, new files wait; mounted again, every file is
    /// converted once into the real outbox.
    @Test func anUnmountedOutboxIsHeldUntilItIsBack() throws {
        guard let disk = FaultCommandTests.mount(8 << 20, for: "an unmounted outbox") else { return }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: disk.path("out"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let outbox = dir.path("out")
        try FaultMount.bind(disk.path("out"), at: outbox)
        defer { Self.unmountLater(outbox) }
        let service = try Service(dir.path("in"), outbox, ["--status-port", "0"], log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        let port = try #require(WatchCommandTests.statusPort(service), "\(service.text)")
        try FaultMount.unmount(outbox)
        #expect(Self.waitUntil(30) { service.text.contains(" fault ") }, "\(service.text)")
        #expect(service.text.contains("No such file or directory") && service.text.contains(outbox + "/.gantry-work"), "\(service.text)")
        #expect(httpGet(port: port, path: "/healthz")?.hasPrefix("degraded: ") == true)
        try FaultCommandTests.drop(3, into: dir, side: 32)
        #expect(Self.waitUntil(30) {
            (FaultCommandTests.metric("gantry_retries_total", httpGet(port: port, path: "/metrics") ?? "") ?? 0) >= 2
        })
        // Nothing landed in the empty folder under the mount, and nothing failed.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? ["?"]).isEmpty)
        #expect(Self.files(dir.path("in/.failed")).isEmpty)

        try FaultMount.bind(disk.path("out"), at: outbox)
        #expect(Self.waitUntil(90) { Self.files(dir.path("in/.done")).count == 3 }, "\(service.text)")
        FaultCommandTests.expectExactlyOnce(3, dir: dir, outbox: outbox, log: service.text)
        #expect(Self.files(disk.path("out")) == ["p0.png", "p1.png", "p2.png"])
        #expect(httpGet(port: port, path: "/healthz") == "ok\n")
        #expect(service.terminate() == 0)
    }

    /// Files held (their outputs cannot be written) while the inbox is unmounted are not taken
    /// for deleted: they wait, and are converted once it is back. A held file a person deletes
    /// is dropped with one line and does not stop the service.
    @Test func heldFilesSurviveAnUnmountedInboxAndADeletedOneIsDropped() throws {
        guard let disk = FaultCommandTests.mount(8 << 20, for: "an unmounted inbox") else { return }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: disk.path("in"), withIntermediateDirectories: true)
        let inbox = dir.path("in")
        try FaultMount.bind(disk.path("in"), at: inbox)
        defer { Self.unmountLater(inbox) }
        let faultFile = dir.path("fault")
        try "EIO .gantry-work".write(toFile: faultFile, atomically: true, encoding: .utf8)
        let service = try Service(inbox, dir.path("out"), [], environment: ["GANTRY_TEST_FAULT_FILE": faultFile],
                                  log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        #expect(Self.waitUntil(20) { service.text.contains(" started ") })
        try Self.drop(["p0.png", "p1.png"], staging: disk.path("staging"), inbox: disk.path("in"))
        #expect(Self.waitUntil(60) { service.text.contains(" fault ") && Self.files(disk.path("in/.processing")).count == 2 },
                "\(service.text)")
        try FaultMount.unmount(inbox)
        try FileManager.default.removeItem(atPath: faultFile)
        Thread.sleep(forTimeInterval: 5)
        #expect(!service.text.contains(" vanished "), "\(service.text)")
        try FaultMount.bind(disk.path("in"), at: inbox)
        #expect(Self.waitUntil(90) { Self.files(inbox + "/.done").count == 2 }, "\(service.text)")
        FaultCommandTests.expectExactlyOnce(2, dir: dir, outbox: dir.path("out"), log: service.text)

        // A held file deleted from its claim folder: dropped, and the service goes on. (It is
        // held before it was ever read, so it cannot have been converted from memory.)
        try "EIO p2.png".write(toFile: faultFile, atomically: true, encoding: .utf8)
        try Self.drop(["p2.png", "p3.png"], staging: disk.path("staging"), inbox: disk.path("in"))
        #expect(Self.waitUntil(60) { service.text.components(separatedBy: " fault ").count == 3 }, "\(service.text)")
        let held = try #require(Self.files(inbox + "/.processing").first { $0.hasSuffix("p2.png") }, "\(service.text)")
        try FileManager.default.removeItem(atPath: inbox + "/.processing/" + held)
        try FileManager.default.removeItem(atPath: faultFile)
        #expect(Self.waitUntil(90) { Self.files(inbox + "/.done").count == 3 }, "\(service.text)")
        #expect(Self.waitUntil(20) { service.text.contains(" vanished ") && service.text.contains("p2.png") }, "\(service.text)")
        try Self.drop(["p4.png"], staging: disk.path("staging"), inbox: disk.path("in"))
        #expect(Self.waitUntil(60) { Self.files(inbox + "/.done").count == 4 }, "\(service.text)")
        #expect(Self.files(dir.path("out")) == ["p0.png", "p1.png", "p3.png", "p4.png"])
        #expect(Self.files(inbox + "/.failed").isEmpty && Self.files(inbox + "/.processing").isEmpty, "\(service.text)")
        #expect(service.terminate() == 0)
    }

    /// An input the disk cannot read (EIO, through the seam: no real failing disk here) is held
    /// by watch and stops convert with exit 75, as an output fault does; nothing is failed.
    @Test func anInputTheDiskCannotReadIsTransient() throws {
        print("NOTE: input EIO comes from the GANTRY_TEST_FAULT_FILE seam; a real failing device cannot be made here")
        let dir = try TemporaryDirectory()
        let faultFile = dir.path("fault")
        try "EIO p1.png".write(toFile: faultFile, atomically: true, encoding: .utf8)
        let environment = ["GANTRY_TEST_FAULT_FILE": faultFile]
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let service = try Service(dir.path("in"), dir.path("out"), [], environment: environment, log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        try FaultCommandTests.drop(3, into: dir, side: 32)
        #expect(Self.waitUntil(60) { service.text.contains(" fault ") && service.text.contains("Input/output error") }, "\(service.text)")
        #expect(Self.files(dir.path("in/.failed")).isEmpty)
        try FileManager.default.removeItem(atPath: faultFile)
        #expect(Self.waitUntil(90) { Self.files(dir.path("in/.done")).count == 3 }, "\(service.text)")
        FaultCommandTests.expectExactlyOnce(3, dir: dir, outbox: dir.path("out"), log: service.text)

        for i in 0..<3 { try dir.write("photos/p\(i).png", try TestImages.png(width: 32, height: 32, seed: i)) }
        try "EIO photos/p1".write(toFile: faultFile, atomically: true, encoding: .utf8)
        let convert = try runGantry(["convert", dir.path("photos"), "-m", WatchCommandTests.model, "-o", dir.path("converted"),
                                     "--report", dir.path("report.jsonl")], environment: environment)
        #expect(convert.status == 75 && convert.stderr.contains("Input/output error") && !convert.stderr.contains("failed:"),
                "\(convert.stderr)")
        let report = try String(contentsOfFile: dir.path("report.jsonl"), encoding: .utf8)
        #expect(report.contains("not_done") && !report.contains("\"failed\""), "\(report)")
        try FileManager.default.removeItem(atPath: faultFile)
        let finished = try runGantry(["convert", dir.path("photos"), "-m", WatchCommandTests.model, "-o", dir.path("converted"), "--skip-existing"])
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(Self.files(dir.path("converted")) == ["p0.png", "p1.png", "p2.png"])
    }

    /// A scratch folder too small for a streamed image fails that image with one line naming
    /// the folder and the error; the other images are converted, and no scratch file is left.
    @Test func aFullScratchFolderFailsThatImageAndTheRestGoOn() throws {
        guard let scratch = FaultCommandTests.mount(1 << 20, for: "a full scratch folder") else { return }
        let dir = try TemporaryDirectory()
        try dir.write("in/big.png", try TestImages.png(width: 1536, height: 1024, seed: 1))
        for name in ["a", "b"] { try dir.write("in/\(name).png", try TestImages.png(width: 48, height: 48, seed: 2)) }
        // 256M leaves this model 64×64 pixels a pass: the large image is streamed and spills.
        let r = try runGantry(["convert", dir.path("in"), "-m", WatchCommandTests.model, "-o", dir.path("out"),
                               "--memory-limit", "256M", "--scratch", scratch.url.path])
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("No space left on device") }
        #expect(r.status == 1 && lines.count == 1 && lines[0].contains("big.png") && lines[0].contains(scratch.url.path), "\(r.stderr)")
        #expect(Self.files(dir.path("out")) == ["a.png", "b.png"])
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: scratch.url.path)) ?? ["?"]).isEmpty)
    }
}
