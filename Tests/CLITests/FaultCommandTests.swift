import Foundation
import Imaging
import Testing
import TestSupport

/// Transient faults made for real (a tmpfs that fills, or goes read-only) under the real binary:
/// watch holds and retries and converts every file exactly once when the fault clears; convert
/// stops with exit 75, no partial file and a report, and `--skip-existing` finishes; training
/// keeps its last complete state and continues. Needs root to mount; says so when it cannot.
@Suite(.serialized)
struct FaultCommandTests {
    typealias Service = WatchCommandTests.Service

    static func mount(_ bytes: Int, for test: String) -> FaultMount? {
        let (m, whyNot) = FaultMount.make(bytes: bytes)
        if m == nil { print("SKIPPED \(test): cannot make the fault: \(whyNot ?? "")") }
        return m
    }

    static func drop(_ count: Int, into dir: TemporaryDirectory, side: Int = 64) throws {
        for i in 0..<count {
            try dir.write("staging/p\(i).png", try TestImages.png(width: side, height: side, seed: 100 + i))
            rename(dir.path("staging/p\(i).png"), dir.path("in/p\(i).png"))
        }
    }

    static func metric(_ name: String, _ text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// Every input converted exactly once: one output per input, no numbered duplicate, all
    /// retired to done, nothing in failed.
    static func expectExactlyOnce(_ count: Int, dir: TemporaryDirectory, outbox: String, log: String) {
        let outputs = WatchCommandTests.files(outbox)
        #expect(outputs == (0..<count).map { "p\($0).png" }.sorted(), "\(outputs)\n\(log)")
        #expect(WatchCommandTests.files(dir.path("in/.done")).count == count, "\(log)")
        #expect(WatchCommandTests.files(dir.path("in/.failed")).isEmpty, "\(log)")
    }

    /// The outbox fills after a few outputs: the rest are held (never failed), /healthz says
    /// degraded and /metrics counts retries; once space is freed every file is converted once.
    @Test func watchHoldsFilesWhileTheOutboxIsFullAndFinishesThemOnce() throws {
        guard let disk = Self.mount(48 * 1024, for: "watch on a full outbox") else { return }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let outbox = disk.path("out")
        let service = try Service(dir.path("in"), outbox, ["--status-port", "0"], log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        let port = try #require(WatchCommandTests.statusPort(service), "\(service.text)")
        try Self.drop(10, into: dir)
        #expect(WatchCommandTests.waitUntil(60) { service.text.contains(" fault ") }, "\(service.text)")
        #expect(service.text.contains("No space left on device"), "\(service.text)")
        #expect(httpGet(port: port, path: "/healthz")?.hasPrefix("degraded: ") == true)
        // Retries happen, quietly: one line for the fault, none per retry.
        #expect(WatchCommandTests.waitUntil(20) {
            (Self.metric("gantry_retries_total", httpGet(port: port, path: "/metrics") ?? "") ?? 0) >= 1
        })
        let metrics = httpGet(port: port, path: "/metrics") ?? ""
        #expect(Self.metric("gantry_fault_active", metrics) == 1, "\(metrics)")
        #expect(service.text.components(separatedBy: " fault ").count == 2, "\(service.text)")
        #expect(WatchCommandTests.files(dir.path("in/.failed")).isEmpty)
        #expect(WatchCommandTests.files(outbox).count < 10)

        try disk.resize(bytes: 8 << 20)
        #expect(WatchCommandTests.waitUntil(90) { WatchCommandTests.files(dir.path("in/.done")).count == 10 }, "\(service.text)")
        Self.expectExactlyOnce(10, dir: dir, outbox: outbox, log: service.text)
        #expect(service.text.contains(" fault-cleared "), "\(service.text)")
        #expect(httpGet(port: port, path: "/healthz") == "ok\n")
        #expect(Self.metric("gantry_fault_active", httpGet(port: port, path: "/metrics") ?? "") == 0)
        #expect(service.terminate() == 0)
    }

    /// A read-only outbox (EROFS), then writable again; and a worker killed during the fault
    /// loses nothing: its held claims are finished by the next one.
    @Test func watchHoldsFilesWhileTheOutboxIsReadOnlyAcrossAKill() throws {
        guard let disk = Self.mount(8 << 20, for: "watch on a read-only outbox") else { return }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let outbox = disk.path("out")
        let log = dir.url.appendingPathComponent("log")
        let first = try Service(dir.path("in"), outbox, [], log: log)
        #expect(WatchCommandTests.waitUntil(20) { first.text.contains(" started ") })
        try disk.setReadOnly(true)
        try Self.drop(4, into: dir)
        #expect(WatchCommandTests.waitUntil(60) { first.text.contains(" fault ") }, "\(first.text)")
        #expect(first.text.contains("Read-only file system"), "\(first.text)")
        #expect(WatchCommandTests.files(dir.path("in/.failed")).isEmpty)
        first.kill9()

        try disk.setReadOnly(false)
        let second = try Service(dir.path("in"), outbox, [], log: log)
        defer { _ = second.terminate() }
        #expect(WatchCommandTests.waitUntil(90) { WatchCommandTests.files(dir.path("in/.done")).count == 4 }, "\(second.text)")
        Self.expectExactlyOnce(4, dir: dir, outbox: outbox, log: second.text)
    }

    /// convert on a disk that fills: exit 75 with one line naming the folder and the error, no
    /// partial file, a report of what was and was not done; the same command with
    /// --skip-existing finishes once space is freed.
    @Test func convertStopsOnAFullDiskAndSkipExistingFinishes() throws {
        guard let disk = Self.mount(48 * 1024, for: "convert on a full disk") else { return }
        let dir = try TemporaryDirectory()
        for i in 0..<10 { try dir.write("in/p\(i).png", try TestImages.png(width: 64, height: 64, seed: 100 + i)) }
        let out = disk.path("out")
        let stopped = try runGantry(["convert", dir.path("in"), "-m", WatchCommandTests.model, "-o", out,
                                     "--report", dir.path("report.jsonl")])
        #expect(stopped.status == 75, "\(stopped.stderr)")
        let faultLines = stopped.stderr.split(separator: "\n").filter { $0.contains("No space left on device") }
        #expect(faultLines.count == 1 && faultLines[0].contains(out) && faultLines[0].contains("--skip-existing"), "\(stopped.stderr)")
        let report = try String(contentsOfFile: dir.path("report.jsonl"), encoding: .utf8).split(separator: "\n")
        let statuses = report.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["status"] as? String
        }
        #expect(statuses.count == 10 && !statuses.contains("failed") && statuses.contains("not_done"), "\(report)")
        // What is there is whole, and no temporary is left behind.
        let written = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(written.allSatisfy { !$0.hasPrefix(".") }, "\(written)")
        for name in written { #expect((try? ImageCodec.decodeFile(atPath: out + "/" + name)) != nil, "\(name)") }
        #expect(written.count == statuses.filter { $0 == "converted" }.count)

        try disk.resize(bytes: 8 << 20)
        let finished = try runGantry(["convert", dir.path("in"), "-m", WatchCommandTests.model, "-o", out, "--skip-existing"])
        #expect(finished.status == 0, "\(finished.stderr)")
        let all = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(all.count == 10, "\(all)")
    }

    /// A read-only output folder stops convert the same way (exit 75), and nothing is failed.
    @Test func convertStopsOnAReadOnlyFolder() throws {
        guard let disk = Self.mount(8 << 20, for: "convert on a read-only folder") else { return }
        let dir = try TemporaryDirectory()
        for i in 0..<3 { try dir.write("in/p\(i).png", try TestImages.png(width: 32, height: 32, seed: i)) }
        try FileManager.default.createDirectory(atPath: disk.path("out"), withIntermediateDirectories: true)
        try disk.setReadOnly(true)
        let r = try runGantry(["convert", dir.path("in"), "-m", WatchCommandTests.model, "-o", disk.path("out")])
        #expect(r.status == 75 && r.stderr.contains("Read-only file system") && !r.stderr.contains("failed:"), "\(r.stderr)")
        try disk.setReadOnly(false)
        let again = try runGantry(["convert", dir.path("in"), "-m", WatchCommandTests.model, "-o", disk.path("out"), "--skip-existing"])
        let outputs = try FileManager.default.contentsOfDirectory(atPath: disk.path("out"))
        #expect(again.status == 0 && outputs.count == 3, "\(again.stderr)")
    }

    /// Training whose disk fills at a later save: it stops with one line and a non-zero exit,
    /// the previous checkpoints still load, and --continue finishes once space is freed.
    @Test func trainingKeepsItsLastGoodStateOnAFullDisk() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 { try dir.write("data/train/\(i).png", try TestImages.png(width: 128, height: 64, seed: i)) }
        // Numbered checkpoints every epoch: the folder grows by one set of networks per epoch.
        let common = ["train", "pix2pix", "--data", dir.path("data"), "--net-g", "resnet_6blocks", "--ngf", "4", "--ndf", "4",
                      "--preprocess", "none", "--n-epochs-decay", "0", "--threads", "1", "--save-epoch-freq", "1"]
        // One epoch's run folder, measured, sets the disk: room for the first epoch's files and
        // half as much again, so a later epoch's save finds the disk full.
        let probe = try runGantry(common + ["--run", dir.path("probe"), "--n-epochs", "1"])
        #expect(probe.status == 0, "\(probe.stderr)")
        let sizes = (FileManager.default.enumerator(atPath: dir.path("probe"))?.compactMap { $0 as? String } ?? []).map {
            ((try? FileManager.default.attributesOfItem(atPath: dir.path("probe/" + $0)))?[.size] as? Int) ?? 0
        }
        let oneSet = sizes.reduce(0, +)
        guard let disk = Self.mount(oneSet * 3 / 2, for: "training on a full disk") else { return }
        let run = disk.path("run")
        let stopped = try runGantry(common + ["--run", run, "--n-epochs", "8"])
        #expect(stopped.status != 0, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("epoch 2/8"), "the fault should come after a first complete save: \(stopped.stderr)")
        let lines = stopped.stderr.split(separator: "\n").filter { $0.contains("No space left on device") }
        #expect(lines.count == 1, "\(stopped.stderr)")
        // The last complete set loads.
        let inspect = try runGantry(["inspect", run])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let converted = try runGantry(["convert", dir.path("data/train/0.png"), "-m", run, "-o", dir.path("x.png")])
        #expect(converted.status == 0, "\(converted.stderr)")

        try disk.resize(bytes: 64 << 20)
        let resumed = try runGantry(["train", "pix2pix", "--run", run, "--continue"])
        #expect(resumed.status == 0 && resumed.stdout.contains("finished"), "\(resumed.stdout)\n\(resumed.stderr)")
    }

    /// EIO, through the atomic-file API's test seam (no real disk fails on demand): watch holds
    /// the files and converts each once when the errors stop; convert stops with exit 75;
    /// training keeps its last good state.
    @Test func ioErrorsAreTransientEverywhere() throws {
        let dir = try TemporaryDirectory()
        let faultFile = dir.path("fault")
        try "EIO .gantry-work".write(toFile: faultFile, atomically: true, encoding: .utf8)
        let environment = ["GANTRY_TEST_FAULT_FILE": faultFile]
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let service = try Service(dir.path("in"), dir.path("out"), [], environment: environment, log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        try Self.drop(3, into: dir, side: 32)
        #expect(WatchCommandTests.waitUntil(60) { service.text.contains(" fault ") && service.text.contains("Input/output error") },
                "\(service.text)")
        #expect(WatchCommandTests.files(dir.path("in/.failed")).isEmpty && WatchCommandTests.files(dir.path("out")).isEmpty)
        try FileManager.default.removeItem(atPath: faultFile)
        #expect(WatchCommandTests.waitUntil(90) { WatchCommandTests.files(dir.path("in/.done")).count == 3 }, "\(service.text)")
        Self.expectExactlyOnce(3, dir: dir, outbox: dir.path("out"), log: service.text)

        for i in 0..<3 { try dir.write("photos/p\(i).png", try TestImages.png(width: 32, height: 32, seed: i)) }
        try "EIO converted".write(toFile: faultFile, atomically: true, encoding: .utf8)
        let convert = try runGantry(["convert", dir.path("photos"), "-m", WatchCommandTests.model, "-o", dir.path("converted")],
                                    environment: environment)
        #expect(convert.status == 75 && convert.stderr.contains("Input/output error") && !convert.stderr.contains("failed:"),
                "\(convert.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path("converted"))) ?? []).isEmpty)

        for i in 0..<2 { try dir.write("data/train/\(i).png", try TestImages.png(width: 128, height: 64, seed: i)) }
        let train = ["train", "pix2pix", "--data", dir.path("data"), "--net-g", "resnet_6blocks", "--ngf", "4", "--ndf", "4",
                     "--preprocess", "none", "--n-epochs-decay", "0", "--threads", "1", "--run", dir.path("run"), "--n-epochs", "1"]
        #expect(try runGantry(train).status == 0)
        try "EIO latest_net_G".write(toFile: faultFile, atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.path("run/latest_net_G.pth")))
        let failed = try runGantry(["train", "pix2pix", "--run", dir.path("run"), "--continue", "--n-epochs", "2"], environment: environment)
        #expect(failed.status != 0 && failed.stderr.split(separator: "\n").filter { $0.contains("Input/output error") }.count == 1,
                "\(failed.stderr)")
        let after = try Data(contentsOf: URL(fileURLWithPath: dir.path("run/latest_net_G.pth")))
        #expect(after == before)
        try FileManager.default.removeItem(atPath: faultFile)
        let resumed = try runGantry(["train", "pix2pix", "--run", dir.path("run"), "--continue", "--n-epochs", "2"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }

    /// EACCES: a work folder, then an output folder, closed to a non-root worker (root ignores
    /// permissions, so the worker runs as `nobody` through setpriv).
    @Test func permissionDeniedOnOutputFoldersIsTransient() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            print("SKIPPED permission faults: needs root and setpriv to run the worker as another user")
            return
        }
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let dir = try TemporaryDirectory()
        for folder in ["in", "out", "staging"] {
            try FileManager.default.createDirectory(atPath: dir.path(folder), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o777])
        }
        let service = try Service(dir.path("in"), dir.path("out"), [], launcher: nobody, execs: true,
                                  log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        #expect(WatchCommandTests.waitUntil(20) { service.text.contains(" started ") }, "\(service.text)")
        let work = dir.path("out/.gantry-work")
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: work)
        try Self.drop(3, into: dir, side: 32)
        #expect(WatchCommandTests.waitUntil(60) { service.text.contains(" fault ") && service.text.contains("Permission denied") },
                "\(service.text)")
        #expect(WatchCommandTests.files(dir.path("in/.failed")).isEmpty)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: work)
        #expect(WatchCommandTests.waitUntil(90) { WatchCommandTests.files(dir.path("in/.done")).count == 3 }, "\(service.text)")
        Self.expectExactlyOnce(3, dir: dir, outbox: dir.path("out"), log: service.text)

        // convert into a folder it may not write: stopped (75), nothing failed.
        try FileManager.default.createDirectory(atPath: dir.path("closed"), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0])
        let r = try runCommand(URL(fileURLWithPath: nobody[0]), Array(nobody.dropFirst()) + [
            gantryExecutable.path, "convert", dir.path("in/.done"), "-m", WatchCommandTests.model, "-o", dir.path("closed")])
        #expect(r.status == 75 && r.stderr.contains("Permission denied") && !r.stderr.contains("failed:"), "\(r.stderr)")
    }

    /// `gantry sample` on a full disk: one line, exit 1, no file, nothing else touched; it
    /// writes the grid once space is freed.
    @Test func sampleOnAFullDiskWritesNothing() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<4 { try dir.write("faces/\(i).png", try TestImages.png(width: 64, height: 64, seed: i)) }
        let train = try runGantry(["train", "dcgan", "--data", dir.path("faces"), "--run", dir.path("run"), "--ngf", "4", "--ndf", "4",
                                   "--nz", "8", "--batch-size", "4", "--n-epochs", "1", "--threads", "1"])
        #expect(train.status == 0, "\(train.stderr)")
        guard let disk = Self.mount(4096, for: "sample on a full disk") else { return }
        let sample = ["sample", "-m", dir.path("run"), "-n", "64", "--seed", "1", "-o", disk.path("grid.png")]
        let full = try runGantry(sample)
        #expect(full.status == 1 && full.stderr.split(separator: "\n").count == 1 && full.stderr.contains("No space left on device"),
                "\(full.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk.url.path).isEmpty)
        try disk.resize(bytes: 4 << 20)
        #expect(try runGantry(sample).status == 0)
    }

    /// Two workers (processes) on one inbox and one full outbox: each holds what it claimed, and
    /// once space is freed every file is converted once between them.
    @Test func twoWorkersOnAFullOutboxConvertEachFileOnce() throws {
        guard let disk = Self.mount(32 * 1024, for: "two workers on a full outbox") else { return }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let outbox = disk.path("out")
        let workers = try ["a", "b"].map { try Service(dir.path("in"), outbox, [], log: dir.url.appendingPathComponent("log-\($0)")) }
        defer { for w in workers { _ = w.terminate() } }
        try Self.drop(12, into: dir)
        #expect(WatchCommandTests.waitUntil(60) { workers.contains { $0.text.contains(" fault ") } })
        #expect(WatchCommandTests.files(dir.path("in/.failed")).isEmpty)
        try disk.resize(bytes: 8 << 20)
        #expect(WatchCommandTests.waitUntil(90) { WatchCommandTests.files(dir.path("in/.done")).count == 12 },
                "\(workers.map(\.text).joined())")
        Self.expectExactlyOnce(12, dir: dir, outbox: outbox, log: workers.map(\.text).joined())
    }

    /// A bad file whose move to a read-only failed folder is held; once the folder is writable
    /// the retry fails it properly (its own reason, not "died twice"), which ends the fault, so
    /// files arriving afterwards are taken again.
    @Test func aHeldBadFileEndsTheFaultWhenItIsFailed() throws {
        guard let disk = Self.mount(8 << 20, for: "a read-only failed folder") else { return }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        let failed = disk.path("failed")
        let service = try Service(dir.path("in"), dir.path("out"), ["--failed", failed], log: dir.url.appendingPathComponent("log"))
        defer { _ = service.terminate() }
        #expect(WatchCommandTests.waitUntil(20) { service.text.contains(" started ") })
        try disk.setReadOnly(true)
        try dir.write("staging/broken.png", Data("not an image".utf8))
        rename(dir.path("staging/broken.png"), dir.path("in/broken.png"))
        #expect(WatchCommandTests.waitUntil(60) { service.text.contains(" fault ") }, "\(service.text)")
        try disk.setReadOnly(false)
        #expect(WatchCommandTests.waitUntil(60) { service.text.contains(" fault-cleared ") }, "\(service.text)")
        try Self.drop(2, into: dir, side: 32)
        #expect(WatchCommandTests.waitUntil(60) { WatchCommandTests.files(dir.path("in/.done")).count == 2 }, "\(service.text)")
        #expect(WatchCommandTests.files(failed) == ["broken.png", "broken.png.error.json"], "\(service.text)")
        let report = (try? String(contentsOfFile: failed + "/broken.png.error.json", encoding: .utf8)) ?? ""
        #expect(!report.contains("died") && report.contains("broken.png"), "\(report)")
    }
}
