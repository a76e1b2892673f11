import Foundation
import Testing
import TestSupport

/// What breaks a worker: a file that kills it every time, and a restart that gets the dead
/// worker's PID. In the `WatchCommandTests` suite so they run one at a time with the others.
extension WatchCommandTests {
    /// A file that kills the worker is tried twice, then set aside with a reason; the others are
    /// converted and the service stays up. With two conversion threads, the files converting
    /// beside the poison file when it struck must not be blamed for it.
    @Test(arguments: [1, 2])
    func poisonFileIsSetAsideAfterKillingTwoWorkers(_ threads: Int) throws {
        let dir = try TemporaryDirectory()
        let innocent = ["a", "b", "c", "x", "y", "z"]
        for (i, name) in (innocent + ["m-poison"]).enumerated() {
            try dir.write("in/\(name).png", TestImages.png(width: 24, height: 24, seed: i))
        }
        let env = ["GANTRY_TEST_CRASH_ON": "poison"]
        let jobs = ["--jobs", "1:\(threads):1"]
        for round in 1...2 {
            let s = try Service(dir.path("in"), dir.path("out"), jobs, environment: env,
                                log: dir.url.appendingPathComponent("crash\(round).log"))
            let died = s.exits(within: 60)
            #expect(died, "round \(round): the worker did not die on the poison file\n\(s.text)")
            #expect(s.process.terminationReason == .uncaughtSignal && s.process.terminationStatus == SIGKILL,
                    "round \(round): ended with \(s.process.terminationStatus)\n\(s.text)")
        }
        let s = try Service(dir.path("in"), dir.path("out"), jobs, environment: env, log: dir.url.appendingPathComponent("last.log"))
        let settled = Self.waitUntil(60) {
            Self.files(dir.path("out")).count == innocent.count && Self.files(dir.path("in/.failed")).count == 2
        }
        #expect(settled, "\(s.text)")
        #expect(s.process.isRunning, "the service went down:\n\(s.text)")
        #expect(s.terminate() == 0)
        #expect(Self.files(dir.path("out")) == innocent.map { "\($0).png" })
        #expect(Self.files(dir.path("in/.failed")) == ["m-poison.png", "m-poison.png.error.json"])
        #expect(Self.files(dir.path("in/.done")) == innocent.map { "\($0).png" })
        #expect(Self.files(dir.path("in/.processing")).isEmpty)
        let reportURL = URL(fileURLWithPath: dir.path("in/.failed/m-poison.png.error.json"))
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: reportURL)) as? [String: Any]
        #expect((report?["reason"] as? String)?.contains("worker died twice while converting this file") == true, "\(report ?? [:])")
    }

    static let pidNamespaces: [String] = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]

    /// Whether this machine lets us start a process as PID 1 of a new PID namespace (root or
    /// CAP_SYS_ADMIN, and an `unshare` that knows `--kill-child`).
    static let canUsePIDNamespaces: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: pidNamespaces[0])
        p.arguments = Array(pidNamespaces.dropFirst()) + ["/bin/sh", "-c", "test $$ = 1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// In a container gantry is PID 1 on every start. A worker killed mid-file and a new one with
    /// the same PID and host name: the new one must see the old one dead and finish its claim.
    @Test(.enabled(if: canUsePIDNamespaces,
                   "skipped: `unshare --pid --fork --mount-proc` is not available here (needs root or CAP_SYS_ADMIN)"))
    func restartWithTheSamePIDFinishesTheDeadWorkersClaims() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<4 { try dir.write("in/f\(i).png", TestImages.png(width: 20, height: 20, seed: i)) }
        try dir.write("in/victim.png", TestImages.png(width: 20, height: 20, seed: 9))
        let first = try Service(dir.path("in"), dir.path("out"), environment: ["GANTRY_TEST_HANG_ON": "victim"],
                                launcher: Self.pidNamespaces, log: dir.url.appendingPathComponent("first.log"))
        // Killed while converting the victim, with everything else done.
        let stuck = Self.waitUntil(60) {
            Self.files(dir.path("in/.done")).count == 4 && Self.files(dir.path("in/.processing")).contains { $0.hasSuffix("victim.png") }
        }
        #expect(stuck, "\(first.text)")
        first.kill9()
        #expect(first.text.contains(" pid=1 "), "the first worker was not PID 1:\n\(first.text)")
        #expect(!Self.files(dir.path("out")).contains("victim.png"))

        let second = try Service(dir.path("in"), dir.path("out"), launcher: Self.pidNamespaces,
                                 log: dir.url.appendingPathComponent("second.log"))
        let finished = Self.waitUntil(60) {
            Self.files(dir.path("out")).contains("victim.png") && Self.files(dir.path("in/.processing")).isEmpty
        }
        #expect(finished, "the dead worker's claim was not recovered:\n\(second.text)")
        #expect(second.terminate() == 0)
        #expect(second.text.contains(" pid=1 "), "the second worker was not PID 1:\n\(second.text)")
        #expect(second.text.contains(" recovered "), "\(second.text)")
        #expect(Self.files(dir.path("out")) == ["f0.png", "f1.png", "f2.png", "f3.png", "victim.png"])
        // Neither worker left its file behind: the dead one's was cleaned up, the live one removed its own.
        #expect(Self.files(dir.path("in/.workers")).isEmpty, "\(Self.files(dir.path("in/.workers")))")
    }
}
