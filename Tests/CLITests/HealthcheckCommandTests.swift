import Foundation
import Testing
import TestSupport

/// `gantry healthcheck`: what the container's HEALTHCHECK runs (the image has no shell).
struct HealthcheckCommandTests {
    @Test func freshStaleAndMissingHeartbeats() throws {
        let dir = try TemporaryDirectory()
        try dir.write("beat", "1\n")
        let fresh = try runGantry(["healthcheck", dir.path("beat")])
        #expect(fresh.status == 0 && fresh.stdout.hasPrefix("healthy"), "\(fresh.stderr)")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: dir.path("beat"))
        let stale = try runGantry(["healthcheck", dir.path("beat")])
        #expect(stale.status == 1 && stale.stderr.contains("more than --max-age 30 s"), "\(stale.stderr)")
        #expect(try runGantry(["healthcheck", dir.path("beat"), "--max-age", "120"]).status == 0)
        let missing = try runGantry(["healthcheck", dir.path("nothing")])
        #expect(missing.status == 1 && missing.stderr.contains("no heartbeat file"), "\(missing.stderr)")
        #expect(try runGantry(["healthcheck", dir.path("beat"), "--max-age", "-1"]).status == 64)
    }
}
