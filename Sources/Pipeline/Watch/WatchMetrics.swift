import CoreMetrics
import Foundation

/// Counters and timings of the watch service, reported through swift-metrics (the status server
/// exposes them on `/metrics` with a Prometheus factory).
///
/// The service also needs two of the values back (files in flight for the grace period, the last
/// heartbeat for `/healthz`), and swift-metrics handles are write-only, so those are kept here too.
public final class WatchMetrics: @unchecked Sendable {
    /// Label of the conversion-time timer, whose histogram buckets a factory may set.
    public static let conversionTimeLabel = "gantry_conversion_seconds"
    /// Upper bounds (seconds) of the conversion-time histogram.
    public static let conversionTimeBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    /// A condition, not just a lock: a stop waits on it for the files in flight to finish.
    private let lock = NSCondition()
    private var flight = 0
    private var lastBeat = Date()
    private var fault: String?
    private let processed, failures, retries: CoreMetrics.Counter
    private let depth, inFlightGauge, faultGauge: Gauge
    private let conversionTime: CoreMetrics.Timer

    /// Creates the metrics in `factory` at once, so `/metrics` lists them at zero from the start.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        processed = CoreMetrics.Counter(label: "gantry_files_processed_total", factory: factory)
        failures = CoreMetrics.Counter(label: "gantry_files_failed_total", factory: factory)
        depth = Gauge(label: "gantry_queue_depth", factory: factory)
        inFlightGauge = Gauge(label: "gantry_files_in_flight", factory: factory)
        conversionTime = CoreMetrics.Timer(label: Self.conversionTimeLabel, factory: factory)
        retries = CoreMetrics.Counter(label: "gantry_retries_total", factory: factory)
        faultGauge = Gauge(label: "gantry_fault_active", factory: factory)
        processed.increment(by: 0)
        failures.increment(by: 0)
        retries.increment(by: 0)
        depth.record(0)
        inFlightGauge.record(0)
        faultGauge.record(0)
    }

    /// Files claimed and not yet finished.
    public var inFlight: Int { lock.withLock { flight } }
    /// Seconds since the main loop last went round (a stalled loop makes `/healthz` fail).
    public var secondsSinceHeartbeat: Double { lock.withLock { Date().timeIntervalSince(lastBeat) } }

    // Recorded under the lock, so the gauge never shows an older count after a newer one.
    func claimed() { lock.withLock { flight += 1; inFlightGauge.record(flight) } }
    func released() { lock.withLock { flight -= 1; inFlightGauge.record(flight); lock.broadcast() } }

    /// Waits (without polling) until no file is in flight or `deadline` passes; returns how many
    /// are still in flight.
    func waitUntilIdle(before deadline: Date) -> Int {
        lock.withLock {
            while flight > 0 && lock.wait(until: deadline) {}
            return flight
        }
    }
    func failed() { failures.increment() }

    /// The transient fault files are held for (a full disk, an I/O error, …), nil when none:
    /// `/healthz` reports the service degraded with it.
    public var faultReason: String? { lock.withLock { fault } }
    func faultBegan(_ reason: String) { lock.withLock { fault = reason; faultGauge.record(1) } }
    func faultCleared() { lock.withLock { fault = nil; faultGauge.record(0) } }
    /// One held file retried.
    func retried() { retries.increment() }
    func beat() { lock.withLock { lastBeat = Date() } }
    func setQueueDepth(_ n: Int) { depth.record(n) }

    /// One file done; `seconds` runs from a worker starting on the claimed file (decode) to its
    /// output published and input retired. Time spent queued before that is not in it: queue
    /// depth is its own gauge.
    func converted(seconds: Double) {
        processed.increment()
        conversionTime.recordNanoseconds(Int64(seconds * 1e9))
    }
}
