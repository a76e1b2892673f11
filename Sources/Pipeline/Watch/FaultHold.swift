import AtomicFiles
import Foundation

/// Watch's answer to a transient fault (`TransientFault`: a full disk, an I/O error, a folder
/// gone read-only, closed or missing): the files it hit are held, never failed, and retried with
/// capped exponential backoff; no new file is claimed meanwhile. One held file at a time is
/// retried as a probe — 1 s after the fault began, then 2, 4, … up to 60 s apart — and the first
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

    /// The fault now, if any.
    var current: TransientFault? { lock.withLock { fault } }

    /// `claim` hit `fault` at time `now`. Returns true when this began the fault (log it once).
    func hold(_ claim: WatchService.Claim, _ fault: TransientFault, now: Double, wasProbe: Bool) -> Bool {
        lock.withLock {
            held.append(claim)
            if self.fault == nil {
                self.fault = fault
                delay = Self.firstDelay
                retryAt = now + delay
                probing = false
                return true
            }
            if wasProbe {
                // The probe failed again: wait twice as long, up to a minute.
                delay = min(delay * 2, Self.longestDelay)
                retryAt = now + delay
                probing = false
            }
            return false
        }
    }

    /// A file was finished (converted, or failed for bad input): its writes went through. Returns
    /// the fault that cleared, if one was active.
    func succeeded() -> TransientFault? {
        lock.withLock {
            guard let f = fault else { return nil }
            fault = nil
            probing = false
            cleared = true
            return f
        }
    }

    /// What the main loop should queue now: after a clear, every held claim; during a fault, one
    /// probe once its time has come; otherwise nothing.
    func due(now: Double) -> (claims: [WatchService.Claim], probe: Bool) {
        lock.withLock {
            if fault == nil {
                guard cleared || !held.isEmpty else { return ([], false) }
                cleared = false
                defer { held = [] }
                return (held, false)
            }
            guard !probing, now >= retryAt, !held.isEmpty else { return ([], false) }
            probing = true
            return ([held.removeFirst()], true)
        }
    }

    /// Seconds until the next probe is due (nil without a fault or with a probe out).
    func secondsToRetry(now: Double) -> Double? {
        lock.withLock { fault != nil && !probing && !held.isEmpty ? max(0, retryAt - now) : nil }
    }

    /// Claims waiting for the fault to clear.
    var heldCount: Int { lock.withLock { held.count } }
}
