import AtomicFiles
import Foundation

/// Shows a run's progress: a redrawn bar on a terminal, a plain line every few seconds
/// otherwise (logs, CI), one line per file with `verbose`, and every failure as it happens.
/// Also keeps the `--report` JSON lines, which the caller writes whole when the run ends.
public final class ProgressPrinter: ConvertObserver, @unchecked Sendable {
    public enum Style: Sendable { case bar, lines, quiet }

    private let total: Int
    private let style: Style
    private let verbose: Bool
    private let keepsReport: Bool
    private var reportLines = Data()
    private let lock = NSLock()
    private let start = DispatchTime.now().uptimeNanoseconds
    private var done = 0, converted = 0, skipped = 0, failed = 0
    private var lastDraw: UInt64 = 0
    private var barShown = false
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public init(total: Int, style: Style, verbose: Bool, keepsReport: Bool = false) {
        self.total = total
        self.style = style
        self.verbose = verbose
        self.keepsReport = keepsReport
    }

    /// The `--report` JSON lines so far, one per input.
    public var report: Data { lock.withLock { reportLines } }

    /// Adds a result to the report without counting it as progress (files that are not images).
    public func record(_ r: ItemResult) {
        lock.withLock { if keepsReport, let line = try? encoder.encode(r) { reportLines += line + Data("\n".utf8) } }
    }

    /// `bar` when stderr is a terminal, `lines` otherwise.
    public static var defaultStyle: Style { isatty(STDERR_FILENO) != 0 ? .bar : .lines }

    public func finished(_ r: ItemResult) {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        switch r.status {
        case .converted: converted += 1
        case .skipped: skipped += 1
        case .failed: failed += 1
        case .notDone: break
        }
        if keepsReport, let line = try? encoder.encode(r) { reportLines += line + Data("\n".utf8) }
        if r.status == .failed, style != .quiet {
            emit("failed: \(r.error ?? r.input)")
        } else if let note = r.note, style != .quiet {
            emit("note: \(r.input): \(note)")
        } else if verbose {
            emit(r.status == .converted ? "\(r.input) -> \(r.output ?? "")" : "skipped: \(r.input) (\(r.error ?? ""))")
        }
        let now = DispatchTime.now().uptimeNanoseconds
        switch style {
        case .bar where now - lastDraw > 100_000_000 || done == total:
            lastDraw = now
            draw()
        case .lines where now - lastDraw > 5_000_000_000 && done < total:
            lastDraw = now
            StandardStreams.error("gantry: \(status())\n")
        default:
            break
        }
    }

    /// Prints the summary line (and clears the bar).
    public func finish(_ summary: ConvertSummary, extra: [String] = []) {
        lock.lock()
        defer { lock.unlock() }
        guard style != .quiet else { return }
        if barShown { StandardStreams.error("\r\u{1B}[2K") }
        var line = String(format: "%d converted, %d skipped, %d failed in %.1f s", summary.converted, summary.skipped,
                          summary.failed, summary.seconds)
        if summary.converted > 0 { line += String(format: " (%.2f images/s)", Double(summary.converted) / summary.seconds) }
        if summary.notDone > 0 { line += ", \(summary.notDone) not done" }
        if summary.interrupted { line += "; interrupted: the remaining inputs were not started" }
        for e in extra { line += "; " + e }
        StandardStreams.error(line + "\n")
    }

    private func status() -> String {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        return String(format: "%d/%d  %.2f img/s  ETA %@", done, total, rate, formatDuration(eta))
            + (failed > 0 ? "  (\(failed) failed)" : "")
    }

    private func draw() {
        let width = 28
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        StandardStreams.error("\r\u{1B}[2K\(bar) \(status())")
        barShown = true
    }

    private func emit(_ line: String) {
        let prefix = barShown ? "\r\u{1B}[2K" : ""
        StandardStreams.error(prefix + line + "\n")
        if barShown { draw() }
    }
}

/// "m:ss", or "h:mm:ss" from an hour on.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "--:--" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
