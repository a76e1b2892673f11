import Foundation
@testable import Pipeline
import Testing
import TestSupport

/// The attempt count that stops crash loops. The process-level version (poison files that kill
/// real workers) is in `WatchCommandTests`.
struct WatchCrashGuardTests {
    @Test func attemptsSurviveAndCanBeWithdrawn() throws {
        let dir = try TemporaryDirectory()
        #expect(CrashGuard.attempts(in: dir.url) == 0)
        try CrashGuard.record(1, in: dir.url)
        try CrashGuard.record(2, in: dir.url)
        #expect(CrashGuard.attempts(in: dir.url) == 2)
        try CrashGuard.record(0, in: dir.url)
        #expect(CrashGuard.attempts(in: dir.url) == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    /// A suspect conversion starts only once the others ended, and nothing starts beside it.
    @Test func suspectsConvertAlone() {
        let gate = ConversionGate()
        let log = EventLog()
        let release = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for i in 0..<2 {
            DispatchQueue.global().async(group: group) {
                gate.run(alone: false) { log.add("start \(i)"); release.wait(); log.add("end \(i)") }
            }
        }
        while log.events.count < 2 { usleep(1000) }
        DispatchQueue.global().async(group: group) { gate.run(alone: true) { log.add("alone start"); log.add("alone end") } }
        usleep(100_000)
        DispatchQueue.global().async(group: group) { gate.run(alone: false) { log.add("late") } }
        usleep(100_000)
        release.signal()
        release.signal()
        group.wait()
        let events = log.events
        let aloneAt = events.firstIndex(of: "alone start")!
        #expect(events.firstIndex(of: "end 0")! < aloneAt && events.firstIndex(of: "end 1")! < aloneAt, "\(events)")
        #expect(events[aloneAt + 1] == "alone end", "\(events)")
    }
}

private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    var events: [String] { lock.withLock { list } }
    func add(_ e: String) { lock.withLock { list.append(e) } }
}
