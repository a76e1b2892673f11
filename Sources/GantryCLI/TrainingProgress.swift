import Foundation
import Pipeline
import Runs
import Training

/// Shows a run's progress from its `TrainingEvent`s: on a terminal a bar redrawn in place
/// (epoch, iteration, it/s, ETA for the epoch and the run, the last losses), otherwise a plain
/// line every 30 seconds; a line per finished epoch and per skipped file either way.
final class TrainingProgress {
    /// `quiet`: nothing (the other ranks of a data-parallel job; rank 0 reports).
    enum Style: Sendable { case bar, lines, quiet }

    private let style: Style
    private let epochs: ClosedRange<Int>
    private let output: FileHandle
    private var epochStart = DispatchTime.now().uptimeNanoseconds
    private var epochIterations = 0
    private var epochSeconds: [Double] = []
    private var lastDraw: UInt64 = 0
    private var barShown = false
    private var current = (epoch: 0, batch: 0, batches: 0)
    private var last: LossRecord?

    /// `lines` is for logs and CI; `bar` redraws one line, so only for a terminal.
    init(style: Style, epochs: ClosedRange<Int>, output: FileHandle = .standardError) {
        self.style = style
        self.epochs = epochs
        self.output = output
    }

    /// `bar` when standard error is a terminal.
    static var defaultStyle: Style { isatty(STDERR_FILENO) != 0 ? .bar : .lines }

    func handle(_ event: TrainingEvent) {
        guard style != .quiet else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        switch event {
        case .note(let text):
            emit("note: \(text)")
        case .epochStarted(let epoch, let batches):
            (epochStart, epochIterations, current) = (now, 0, (epoch, 0, batches))
        case .iteration(let record, let batch, let batches):
            epochIterations += 1
            current = (record.epoch, batch, batches)
            last = record
            if style == .bar && (now - lastDraw > 200_000_000 || batch == batches) {
                lastDraw = now
                draw(status())
            } else if style == .lines && now - lastDraw > 30_000_000_000 {
                lastDraw = now
                emit(status())
            }
        case .skipped(let message):
            emit("warning: skipped an input that cannot be decoded: \(message)")
        case .epochFinished(let epoch, let seconds, let record):
            epochSeconds.append(seconds)
            let losses = record.map(Self.losses) ?? ""
            emit(String(format: "epoch %d/%d  %.1f s  lr %.2e  %@", epoch, epochs.upperBound, seconds, record?.lr ?? 0, losses))
        }
    }

    /// Clears the bar (before the command's last words).
    func finish() {
        if barShown { output.write(Data("\r\u{1B}[2K".utf8)) }
        barShown = false
    }

    private func status() -> String {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
        let rate = Double(epochIterations) / max(elapsed, 1e-9)
        let epochLeft = Double(current.batches - current.batch) / rate
        let perEpoch = epochSeconds.isEmpty ? Double(current.batches) / rate : epochSeconds.reduce(0, +) / Double(epochSeconds.count)
        let runLeft = epochLeft + Double(epochs.upperBound - current.epoch) * perEpoch
        var text = String(format: "epoch %d/%d %@ %d/%d  %.2f it/s  ETA %@ (run %@)", current.epoch, epochs.upperBound,
                          bar(), current.batch, current.batches, rate, formatDuration(epochLeft), formatDuration(runLeft))
        if let last { text += "  " + Self.losses(last) }
        return text
    }

    private func bar() -> String {
        guard style == .bar else { return "" }
        let width = 20, filled = current.batches == 0 ? width : width * current.batch / current.batches
        return String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
    }

    private static func losses(_ record: LossRecord) -> String {
        // NaN marks a term not computed this iteration (G's on a critic-only step).
        record.losses.filter { !$0.value.isNaN }.map { String(format: "%@ %.3f", $0.name, $0.value) }.joined(separator: "  ")
    }

    private func draw(_ line: String) {
        // A line longer than the terminal would wrap, and "\r" would then redraw only its tail.
        var size = winsize()
        let columns = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 120
        output.write(Data(("\r\u{1B}[2K" + String(line.prefix(columns - 1))).utf8))
        barShown = true
    }

    private func emit(_ line: String) {
        output.write(Data(((barShown ? "\r\u{1B}[2K" : "") + line + "\n").utf8))
        barShown = false
    }
}
