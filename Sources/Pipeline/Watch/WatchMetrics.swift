import Foundation

/// Counters and timings of the watch service, exposed on `/metrics` in Prometheus' text format.
public final class WatchMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var processed = 0, failures = 0, depth = 0, flight = 0
    private var latencySum = 0.0
    private var latencyBuckets = [Int](repeating: 0, count: WatchMetrics.bounds.count)
    private var lastBeat = Date()

    static let bounds: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    public var inFlight: Int { lock.withLock { flight } }
    public var secondsSinceHeartbeat: Double { lock.withLock { Date().timeIntervalSince(lastBeat) } }

    func claimed() { lock.withLock { flight += 1 } }
    func released() { lock.withLock { flight -= 1 } }
    func failed() { lock.withLock { failures += 1 } }
    func beat() { lock.withLock { lastBeat = Date() } }
    func setQueueDepth(_ n: Int) { lock.withLock { depth = n } }

    func converted(seconds: Double) {
        lock.withLock {
            processed += 1
            latencySum += seconds
            for (i, b) in Self.bounds.enumerated() where seconds <= b { latencyBuckets[i] += 1 }
        }
    }

    /// The Prometheus text exposition.
    public func exposition() -> String {
        lock.withLock {
            var lines = [
                "# HELP gantry_files_processed_total Inputs converted.", "# TYPE gantry_files_processed_total counter",
                "gantry_files_processed_total \(processed)",
                "# HELP gantry_files_failed_total Inputs moved to the failed folder.", "# TYPE gantry_files_failed_total counter",
                "gantry_files_failed_total \(failures)",
                "# HELP gantry_queue_depth Files seen in the inbox and not yet taken.", "# TYPE gantry_queue_depth gauge",
                "gantry_queue_depth \(depth)",
                "# HELP gantry_files_in_flight Files claimed and being converted.", "# TYPE gantry_files_in_flight gauge",
                "gantry_files_in_flight \(flight)",
                "# HELP gantry_conversion_seconds Time from claim to output.", "# TYPE gantry_conversion_seconds histogram",
            ]
            for (i, b) in Self.bounds.enumerated() {
                lines.append("gantry_conversion_seconds_bucket{le=\"\(b)\"} \(latencyBuckets[i])")
            }
            lines += ["gantry_conversion_seconds_bucket{le=\"+Inf\"} \(processed)",
                      "gantry_conversion_seconds_sum \(latencySum)", "gantry_conversion_seconds_count \(processed)"]
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
