import AtomicFiles
@testable import Engine
import Foundation
import Imaging
@testable import Pipeline
import Testing
import TestSupport

/// Which failures are transient faults (held, retried, never failed) and which are bad input,
/// and the watch service's backoff while one lasts.
struct TransientFaultTests {
    @Test func faultsAreFoundUnderAnyWrapping() throws {
        let url = URL(fileURLWithPath: "/tmp/out/x.png")
        // Through AtomicFile, for real: a folder that does not exist is ENOENT.
        var thrown: (any Error)?
        do { try AtomicFile.write(Data("x".utf8), to: URL(fileURLWithPath: "/nonexistent-\(UUID())/x.png")) } catch { thrown = error }
        #expect(TransientFault.find(in: try #require(thrown))?.errno == ENOENT)
        let wrapped = PipelineError(.writeFailed, "x", cause: PipelineError.failed(.writeFailed, "cannot publish", errno: ENOSPC))
        #expect(TransientFault.find(in: wrapped)?.errno == ENOSPC)
        #expect(TransientFault.find(in: POSIXError(.EIO)) == TransientFault(errno: EIO, path: nil))
        let cocoa = NSError(domain: NSCocoaErrorDomain, code: CocoaError.fileWriteUnknown.rawValue,
                            userInfo: [NSFilePathErrorKey: url.path, NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(EROFS))])
        #expect(TransientFault.find(in: cocoa) == TransientFault(errno: EROFS, path: url.path))
        #expect(TransientFault.find(in: CocoaError(.fileWriteOutOfSpace))?.errno == ENOSPC)
        // Bad input: a name that cannot exist, a file that is no image, a plain message.
        #expect(TransientFault.find(in: POSIXError(.ENAMETOOLONG)) == nil)
        #expect(TransientFault.find(in: ImageError(code: .corrupt, path: "a.png", message: "bad CRC")) == nil)
        #expect(TransientFault.find(in: PipelineError(.writeFailed, "no cause")) == nil)
    }

    @Test func heldFilesAreProbedWithCappedExponentialBackoff() {
        let hold = FaultHold()
        let fault = TransientFault(errno: ENOSPC, path: "/out")
        let claims = (0..<3).map { WatchService.Claim(id: "w~\($0)", relative: "\($0).png") }
        #expect(hold.hold(claims[0], fault, now: 100, wasProbe: false))
        #expect(!hold.hold(claims[1], fault, now: 100.2, wasProbe: false), "one fault, logged once")
        #expect(!hold.hold(claims[2], fault, now: 100.3, wasProbe: false))
        #expect(hold.due(now: 100.5).claims.isEmpty)
        var now = 101.0, expected = 1.0
        var delays: [Double] = []
        for _ in 0..<9 {
            #expect(hold.secondsToRetry(now: now) == 0)
            let due = hold.due(now: now)
            #expect(due.claims.count == 1 && due.probe && !due.probeIntake)
            #expect(hold.due(now: now + 1000).claims.isEmpty, "one probe at a time")
            _ = hold.hold(due.claims[0], fault, now: now, wasProbe: true)
            let wait = hold.secondsToRetry(now: now)!
            delays.append(wait)
            expected = min(expected * 2, 60)
            #expect(wait == expected)
            now += wait
        }
        #expect(delays == [2, 4, 8, 16, 32, 60, 60, 60, 60])
        // The probe succeeds: the fault clears and every held file goes back at once.
        _ = hold.due(now: now)
        #expect(hold.succeeded() == fault)
        #expect(hold.current == nil)
        #expect(hold.due(now: now).claims.count == 2)
        #expect(hold.due(now: now).claims.isEmpty && hold.heldCount == 0)
    }

    /// A fault that holds no file (claiming failed, or the held files vanished) is probed by
    /// claiming one new file or asking the folder, with the same backoff.
    @Test func aFaultWithNothingHeldIsProbedThroughIntake() {
        let hold = FaultHold()
        let fault = TransientFault(errno: EROFS, folder: "/in/.processing")
        #expect(fault.folder == "/in/.processing")
        #expect(hold.begin(fault, now: 10))
        #expect(!hold.begin(fault, now: 10.5), "logged once")
        #expect(hold.secondsToRetry(now: 10.5) == 0.5)
        let first = hold.due(now: 11)
        #expect(first.probeIntake && first.claims.isEmpty)
        #expect(!hold.due(now: 20).probeIntake, "one probe at a time")
        _ = hold.begin(fault, now: 11, wasProbe: true)
        #expect(hold.secondsToRetry(now: 11) == 2)
        // A probe whose file vanished is neither: the next probe may go at once.
        _ = hold.due(now: 13)
        hold.probeReleased()
        #expect(hold.secondsToRetry(now: 13) == 0)
        #expect(hold.due(now: 13).probeIntake)
        #expect(hold.succeeded() == fault && hold.current == nil)
    }

    /// Memory the machine has but cannot give now is transient; a request beyond the machine is not.
    /// An input the disk cannot read (EIO) is transient; one closed to us or deleted is the file's own state.
    @Test func memoryAndInputFaultsAreClassified() throws {
        #expect(FaultHold.fault(in: EngineError.outOfMemory(256 << 20))?.errno == ENOMEM)
        #expect(FaultHold.fault(in: EngineError.outOfMemory(1 << 50)) == nil)
        #expect(FaultHold.fault(in: EngineError(.shapeMismatch, "x")) == nil)

        var unreadable = ImageError(code: .unreadable, path: "/in/a.png", message: "cannot read the file")
        #expect(TransientFault.find(in: unreadable) == nil)
        unreadable.errno = EIO
        #expect(TransientFault.find(in: unreadable) == TransientFault(errno: EIO, path: "/in/a.png"))
        // A real read of a missing file: ENOENT is not retried.
        var missing: ImageError?
        do { _ = try ImageCodec.decodeFile(atPath: "/nonexistent-\(UUID()).png") } catch { missing = error }
        #expect(missing?.code == .unreadable && missing?.errno == nil)
        #expect(TransientFault.inputCodes.isSubset(of: TransientFault.codes))
        #expect(!TransientFault.inputCodes.contains(EACCES) && !TransientFault.inputCodes.contains(ENOENT))
    }

    /// The folder probe writes, flushes and removes a small file; a missing folder is ENOENT.
    @Test func folderProbeAsksTheFolderForAFile() throws {
        let dir = try TemporaryDirectory()
        #expect(FaultHold.problem(writingIn: dir.url.path) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty, "the probe file is removed")
        #expect(FaultHold.problem(writingIn: dir.path("gone"))?.errno == ENOENT)
        #expect(FaultHold.problem(writingIn: dir.path("gone"))?.folder == dir.path("gone"))
    }
}
