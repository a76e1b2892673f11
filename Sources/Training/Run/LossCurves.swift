import Foundation
import Runs

/// `RUN/loss_curves.svg`: one panel per loss, epochs on the x-axis, the raw values faint and an
/// exponentially smoothed line (debiased, as TensorBoard draws it) on top.
public enum LossCurves {
    public static func svg(_ records: [LossRecord], smoothing: Double = 0.9, columns: Int = 2) -> String {
        let names = records.first.map { $0.losses.map(\.name) } ?? []
        let perEpoch = Dictionary(grouping: records, by: \.epoch).mapValues { $0.map(\.iter).max() ?? 1 }
        let x = records.map { Double($0.epoch - 1) + Double($0.iter) / Double(max(perEpoch[$0.epoch] ?? 1, 1)) }
        let (panelW, panelH, margin) = (360.0, 200.0, 40.0)
        let rows = max(1, (names.count + columns - 1) / columns)
        let width = Double(columns) * panelW, height = Double(rows) * panelH
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
        for (k, name) in names.enumerated() {
            let ox = Double(k % columns) * panelW, oy = Double(k / columns) * panelH
            let values = records.map { r in r.losses.first { $0.name == name }?.value ?? .nan }
            let points = zip(x, values).filter { $0.1.isFinite }
            var smoothed: [(Double, Double)] = []
            var average = 0.0, weight = 0.0
            for (px, v) in points {
                average = smoothing * average + (1 - smoothing) * v
                weight = smoothing * weight + (1 - smoothing)
                smoothed.append((px, average / weight))
            }
            let (x0, x1) = (0.0, max(x.max() ?? 1, 1e-9))
            var (y0, y1) = (points.map(\.1).min() ?? 0, points.map(\.1).max() ?? 1)
            if y1 - y0 < 1e-12 { (y0, y1) = (y0 - 0.5, y1 + 0.5) }
            let plotW = panelW - 2 * margin, plotH = panelH - 2 * margin
            func sx(_ v: Double) -> Double { ox + margin + (v - x0) / (x1 - x0) * plotW }
            func sy(_ v: Double) -> Double { oy + panelH - margin - (v - y0) / (y1 - y0) * plotH }
            func polyline(_ p: [(Double, Double)]) -> String {
                p.map { String(format: "%.1f,%.1f", sx($0.0), sy($0.1)) }.joined(separator: " ")
            }
            out += """
            <g class="panel" data-loss="\(escapeMarkup(name))">
            <text x="\(ox + margin)" y="\(oy + 20)" font-weight="bold">\(escapeMarkup(name))</text>
            <line x1="\(sx(x0))" y1="\(sy(y0))" x2="\(sx(x1))" y2="\(sy(y0))" stroke="#888"/>
            <line x1="\(sx(x0))" y1="\(sy(y0))" x2="\(sx(x0))" y2="\(sy(y1))" stroke="#888"/>
            <text x="\(sx(x0) - 3)" y="\(sy(y1) + 4)" text-anchor="end">\(format(y1))</text>
            <text x="\(sx(x0) - 3)" y="\(sy(y0))" text-anchor="end">\(format(y0))</text>
            <text x="\(sx(x1) - 60)" y="\(sy(y0) + 16)">epoch \(format(x1))</text>
            <polyline class="raw" fill="none" stroke="#9ecae1" stroke-width="1" points="\(polyline(envelope(points, x0, x1, Int(plotW))))"/>
            <polyline class="smoothed" fill="none" stroke="#08519c" stroke-width="2" points="\(polyline(envelope(smoothed, x0, x1, Int(plotW))))"/>
            </g>

            """
        }
        return out + "</svg>\n"
    }

    /// At most two points per pixel column, the column's lowest and highest, in order: a run of
    /// 200 epochs has tens of thousands of iterations, which would make the SVG megabytes (and
    /// index.html reloads it) without drawing anything more; the spikes stay visible.
    static func envelope(_ points: [(Double, Double)], _ x0: Double, _ x1: Double, _ columns: Int) -> [(Double, Double)] {
        guard points.count > 2 * columns, columns > 0 else { return points }
        var out: [(Double, Double)] = []
        var column = -1, low = points[0], high = points[0]
        func flush() { out += low.0 <= high.0 ? [low, high] : [high, low] }
        for p in points {
            let c = min(columns - 1, max(0, Int((p.0 - x0) / (x1 - x0) * Double(columns))))
            if c != column {
                if column >= 0 { flush() }
                (column, low, high) = (c, p, p)
            } else {
                if p.1 < low.1 { low = p }
                if p.1 > high.1 { high = p }
            }
        }
        flush()
        return out
    }

    /// An axis label that fits the 40-pixel margin: 3 significant digits, and a short exponent
    /// for small values ("6.0e-5", not "6.02e-05", which ran into the plot).
    static func format(_ v: Double) -> String {
        if abs(v) >= 100 { return String(format: "%.0f", v) }
        if v != 0, abs(v) < 0.01 {
            let exponent = Int((log10(abs(v))).rounded(.down))
            return String(format: "%.1fe%d", v / pow(10, Double(exponent)), exponent)
        }
        return String(format: "%.3g", v)
    }
}
