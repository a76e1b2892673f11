import Foundation
@testable import Pipeline
import Testing
import TestSupport

/// Who counts as alive in a shared inbox. The process-level version (kill -9, then a worker
/// with the same PID) is in `WatchCommandTests`.
struct WatchLivenessTests {
    static let here = WorkerRegistry.Machine(host: "gantry", bootID: "boot-a")

    /// A worker file as another gantry would leave it, with its heartbeat `age` seconds old.
    static func foreignWorker(in dir: TemporaryDirectory, _ id: String, host: String, boot: String?, age: Double) throws {
        try dir.write(id, "host=\(host)\nboot=\(boot ?? "")\npid=1\n")
        let when = Date().addingTimeInterval(-age)
        try FileManager.default.setAttributes([.modificationDate: when], ofItemAtPath: dir.path(id))
    }

    @Test func aWorkerIsAliveExactlyWhileItHoldsItsLock() throws {
        let dir = try TemporaryDirectory()
        var worker: WorkerRegistry? = WorkerRegistry(folder: dir.url, machine: Self.here)
        try worker!.register()
        let id = worker!.id
        let observer = WorkerRegistry(folder: dir.url, machine: Self.here)
        #expect(worker!.holdsLock)
        #expect(observer.isAlive(id))
        #expect(FileManager.default.fileExists(atPath: dir.path(id)), "a live worker's file was removed")
        // Dropped without unregistering, as a killed process is: the kernel releases the lock.
        worker = nil
        #expect(!observer.isAlive(id))
        #expect(!FileManager.default.fileExists(atPath: dir.path(id)), "the dead worker's file was left behind")
    }

    @Test func aWorkerThatStoppedCleanlyIsDead() throws {
        let dir = try TemporaryDirectory()
        let worker = WorkerRegistry(folder: dir.url, machine: Self.here)
        try worker.register()
        worker.unregister()
        #expect(!WorkerRegistry(folder: dir.url, machine: Self.here).isAlive(worker.id))
    }

    /// Without a boot id, machines are told apart by exact host name: `gantry-2` is not `gantry`.
    @Test(arguments: [("gantry", true), ("gantry-2", false), ("gantr", false)])
    func hostNamesAreComparedExactly(_ host: String, _ sameMachine: Bool) throws {
        let dir = try TemporaryDirectory()
        let me = WorkerRegistry(folder: dir.url, machine: .init(host: "gantry", bootID: nil))
        try Self.foreignWorker(in: dir, "w", host: host, boot: nil, age: 0)
        // Unlocked and fresh: dead if it ran on this kernel (lock authoritative), alive if it
        // ran elsewhere (its heartbeat still beats).
        #expect(me.isAlive("w") == !sameMachine)
    }

    @Test func anotherMachineIsDeadOnlyOnceItsHeartbeatStops() throws {
        let dir = try TemporaryDirectory()
        let me = WorkerRegistry(folder: dir.url, machine: Self.here, staleAfter: 30)
        // Same host name, other boot: another machine (or this one before a reboot).
        try Self.foreignWorker(in: dir, "fresh", host: "gantry", boot: "boot-b", age: 1)
        try Self.foreignWorker(in: dir, "stale", host: "gantry", boot: "boot-b", age: 120)
        #expect(me.isAlive("fresh"))
        #expect(!me.isAlive("stale"))
        // Files of other machines are theirs to remove.
        #expect(FileManager.default.fileExists(atPath: dir.path("stale")))
    }

    @Test func workersOfAnOlderGantryAreJudgedByTheirHeartbeat() throws {
        let dir = try TemporaryDirectory()
        let me = WorkerRegistry(folder: dir.url, machine: Self.here)
        try dir.write("gantry-1-1700000000", "1700000000.0\n")
        #expect(me.isAlive("gantry-1-1700000000"))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_700_000_000)],
                                              ofItemAtPath: dir.path("gantry-1-1700000000"))
        #expect(!me.isAlive("gantry-1-1700000000"))
        #expect(!me.isAlive("never-existed"))
    }

    @Test func workerIDsDifferAcrossRestartsOfOnePID() {
        let dir = URL(fileURLWithPath: "/nonexistent")
        let ids = Set((0..<50).map { _ in WorkerRegistry(folder: dir, machine: Self.here).id })
        #expect(ids.count == 50)
    }
}
