import AtomicFiles
import Foundation
import Imaging
@testable import Pipeline
import Testing

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
            let (due, probe) = hold.due(now: now)
            #expect(due.count == 1 && probe)
            #expect(hold.due(now: now + 1000).claims.isEmpty, "one probe at a time")
            _ = hold.hold(due[0], fault, now: now, wasProbe: true)
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
}
