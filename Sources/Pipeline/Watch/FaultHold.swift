import AtomicFiles
import Engine
import Foundation

/// Watch's answer to a transient fault (`TransientFault`: a full disk, an I/O error, a folder
/// gone read-only, closed or missing, memory short): the files it hit are held, never failed, and
/// retried with capped exponential backoff; no new file is claimed meanwhile. One probe at a time
/// — 1 s after the fault began, then 2, 4, … up to 60 s apart — tries a held file again; with
/// none held (the fault was in claiming, or the held files vanished) the probe claims one new
/// file, or with none waiting asks the fault's folder whether it takes a file now. The first
/// success clears the fault and sends every held file back to the workers.
///
/// The state is shared by the main loop (which requeues) and the workers (which report), so it
/// lives behind one lock; the workers never block on the queue.
final class FaultHold: @unchecked Sendable {
    static let firstDelay = 1.0
    static let longestDelay = 60.0

    private let lock = NSLock()
    private(set) var fault: TransientFault?
    private var held: [WatchService.Claim] = []
    private var delay = firstDelay
    private var retryAt = 0.0
    private var probing = false
    private var cleared = false

    /// What the main loop should do now (`due`).
    struct Due {
        /// Claims to queue: after a clear every held one, during a fault one probe.
        var claims: [WatchService.Claim] = []
        var probe = false
        /// A probe is due but no file is held: claim one new file as the probe, or check the folder.
        var probeIntake = false
    }

    /// The fault now, if any.
    var current: TransientFault? { lock.withLock { fault } }

    /// `claim` hit `fault` at time `now`. Returns true when this began the fault (log it once).
    func hold(_ claim: WatchService.Claim, _ fault: TransientFault, now: Double, wasProbe: Bool) -> Bool {
        lock.withLock {
            held.append(claim)
            return record(fault, now: now, probeFailed: wasProbe)
        }
    }

    /// A fault with no file to hold (claiming failed, or a folder of the service vanished).
    /// Returns true when this began the fault.
    func begin(_ fault: TransientFault, now: Double, wasProbe: Bool = false) -> Bool {
        lock.withLock { record(fault, now: now, probeFailed: wasProbe) }
    }

    private func record(_ fault: TransientFault, now: Double, probeFailed: Bool) -> Bool {
        if self.fault == nil {
            self.fault = fault
            delay = Self.firstDelay
            retryAt = now + delay
            probing = false
            return true
        }
        if probeFailed {
            // The probe failed again: wait twice as long, up to a minute.
            delay = min(delay * 2, Self.longestDelay)
            retryAt = now + delay
            probing = false
        }
        return false
    }

    /// The probe ended neither way (its file vanished, or another worker took it): probe again
    /// with the next one now.
    func probeReleased() { lock.withLock { probing = false } }

    /// A file was finished (converted, or failed for bad input), or the fault's folder took a
    /// file: its writes went through. Returns the fault that cleared, if one was active.
    func succeeded() -> TransientFault? {
        lock.withLock {
            guard let f = fault else { return nil }
            fault = nil
            probing = false
            cleared = true
            return f
        }
    }

    /// What the main loop should do at time `now` (see `Due`).
    func due(now: Double) -> Due {
        lock.withLock {
            if fault == nil {
                guard cleared || !held.isEmpty else { return Due() }
                cleared = false
                defer { held = [] }
                return Due(claims: held)
            }
            guard !probing, now >= retryAt else { return Due() }
            probing = true
            if held.isEmpty { return Due(probeIntake: true) }
            return Due(claims: [held.removeFirst()], probe: true)
        }
    }

    /// Seconds until the next probe is due (nil without a fault or with a probe out).
    func secondsToRetry(now: Double) -> Double? {
        lock.withLock { fault != nil && !probing ? max(0, retryAt - now) : nil }
    }

    /// Claims waiting for the fault to clear.
    var heldCount: Int { lock.withLock { held.count } }

    /// The transient fault under `error` (`TransientFault.find`), or a memory shortage: memory
    /// for a tensor the machine could give but does not now. A request beyond the machine's
    /// memory is no passing fault: that file fails as bad input.
    static func fault(in error: any Error) -> TransientFault? {
        if let f = TransientFault.find(in: error) { return f }
        if let e = error as? EngineError, e.code == .outOfMemory, let bytes = e.requestedBytes,
           UInt64(max(0, bytes)) < ProcessInfo.processInfo.physicalMemory {
            return TransientFault(errno: ENOMEM, path: nil)
        }
        return nil
    }

    /// Why `folder` cannot take a file now (it is missing, full, read-only, closed to us, or
    /// failing), or nil when a small file can be written, flushed and removed there.
    static func problem(writingIn folder: String) -> TransientFault? {
        let probe = folder + "/.gantry-probe-\(getpid())"
        if let injected = FaultInjection.errno(for: probe) { return TransientFault(errno: injected, folder: folder) }
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return TransientFault(errno: errno, folder: folder) }
        defer { unlink(probe) }
        var page = [UInt8](repeating: 0, count: 4096)
        let written = write(fd, &page, page.count)
        let code = written == page.count ? (fsync(fd) == 0 ? 0 : errno) : (written < 0 ? errno : ENOSPC)
        close(fd)
        return code == 0 ? nil : TransientFault(errno: code, folder: folder)
    }
}
