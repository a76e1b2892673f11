import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TestSupport
@testable import Runs
@testable import Training

/// `losses.jsonl` and `loss_curves.svg` of a run folder.
struct LossLogTests {
    static func records(_ n: Int) -> [LossRecord] {
        (0..<n).map { i in
            LossRecord(epoch: 1 + i / 10, iter: 1 + i % 10, lr: 2e-4, losses: [("G_GAN", 1 + 1 / Double(i + 1)), ("G_L1", 30 - Double(i) * 0.1),
                                                                                  ("D_real", 0.5), ("D_fake", 0.25 + 0.01 * Double(i % 3))],
                       seconds: 0.5)
        }
    }

    @Test func appendsLinesAndReadsThemBack() throws {
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("losses.jsonl")
        let written = Self.records(25)
        do {
            let log = try LossLog(url: url)
            for r in written.prefix(20) { try log.append(r) }
        }
        // A resumed run appends to the same file.
        let log = try LossLog(url: url)
        for r in written.suffix(5) { try log.append(r) }
        #expect(try LossLog.read(url) == written)
        let firstLine = try #require(try String(contentsOf: url, encoding: .utf8).split(separator: "\n").first)
        #expect(firstLine.hasPrefix("{\"epoch\":1,\"iter\":1,\"lr\":0.0002,\"G_GAN\":2.0,\"G_L1\":30.0,"))
        // A line torn by a crash is not a record.
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"epoch\":3,\"it".utf8))
        try handle.close()
        #expect(try LossLog.read(url).count == 25)
    }

    @Test func curvesDrawOnePanelPerLossWithRawAndSmoothedLines() throws {
        let svg = LossCurves.svg(Self.records(30))
        // Well-formed XML with four panels, each with 30 raw and 30 smoothed points.
        final class Collector: NSObject, XMLParserDelegate {
            var panels: [String] = [], polylines: [String: Int] = [:]
            func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?,
                        attributes a: [String: String]) {
                if e == "g", let name = a["data-loss"] { panels.append(name) }
                if e == "polyline", let cls = a["class"], let points = a["points"] {
                    polylines[cls, default: 0] += points.split(separator: " ").count
                }
            }
        }
        let parser = XMLParser(data: Data(svg.utf8)), collector = Collector()
        parser.delegate = collector
        #expect(parser.parse())
        #expect(collector.panels == ["G_GAN", "G_L1", "D_real", "D_fake"])
        #expect(collector.polylines == ["raw": 120, "smoothed": 120])
        #expect(svg.contains("epoch 3"))
    }
}

/// A corrupted log line is refused, not trapped on.
struct LossLogCorruptionTests {
    @Test func hugeOrNonFiniteCountersAreRefused() {
        for line in ["{\"epoch\":1e300,\"iter\":1}", "{\"epoch\":1,\"iter\":null}", "{\"epoch\":1,\"iter\":x}", "nope"] {
            #expect(throws: TrainingError.self) { try LossRecord(jsonLine: line) }
        }
    }

    @Test func longRunsDrawAnEnvelopeNotEveryPoint() throws {
        // 200 epochs × 400 iterations: thinned to two points per pixel column, spikes kept.
        var points: [(Double, Double)] = (0..<80_000).map { (Double($0) / 400, sin(Double($0) / 50)) }
        points[12_345].1 = 9
        points[54_321].1 = -7
        let thin = LossCurves.envelope(points, 0, 200, 280)
        #expect(thin.count <= 560 && thin.count >= 280)
        #expect(thin.contains { $0.1 == 9 } && thin.contains { $0.1 == -7 })
        #expect(zip(thin, thin.dropFirst()).allSatisfy { $0.0 <= $1.0 }, "x stays in order")
        let records = (0..<20_000).map { LossRecord(epoch: 1 + $0 / 400, iter: $0 % 400 + 1, lr: 1, losses: [("G", Double($0 % 7))], seconds: 0) }
        #expect(LossCurves.svg(records).utf8.count < 40_000)
    }

    /// Axis labels stay short enough for the margin they sit in.
    @Test func axisLabelsAreShort() {
        #expect(LossCurves.format(6.02e-05) == "6.0e-5")
        #expect(LossCurves.format(0.00118) == "1.2e-3")
        #expect(LossCurves.format(0.0238) == "0.0238")
        #expect(LossCurves.format(55.8) == "55.8")
        #expect(LossCurves.format(1234) == "1234")
        #expect(LossCurves.format(0) == "0")
        for v in [1e-9, 3.3e-7, 0.0099, 0.5, 7.62, 99.4] { #expect(LossCurves.format(v).count <= 6, "\(v)") }
    }
}
