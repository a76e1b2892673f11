import Foundation
import Testing
import TestSupport

/// What breaks a worker: a file that kills it every time. In the `WatchCommandTests` suite so
/// they run one at a time with the others.
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
}
