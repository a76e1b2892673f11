import Foundation
import Runs
import TestSupport
import Testing
import Training

/// `RUN/index.html`'s text: what the page says and when it reloads (how it looks is
/// RunIndexBrowserTests').
struct RunIndexTests {
    @Test func textFromTheRunIsEscaped() {
        let index = RunIndex(model: .pix2pix, runName: "a<b> & \"c\" 'd'", epochsDone: 2, epochsTotal: 5,
                             lastLosses: [("G<script>", 0.5), ("D_real", 0.25)], lastLR: 2e-4, sampleEpochs: [1, 2])
        let html = index.html()
        #expect(html.contains("<h1>a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; <span class=\"model\">pix2pix</span></h1>"))
        #expect(html.contains("<title>a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; · pix2pix — Gantry</title>"))
        #expect(html.contains("G&lt;script&gt; <b>0.5</b>") && !html.contains("G<script>"))
        #expect(html.contains("<b>Epoch 2</b> of 5") && html.contains("lr <b>0.0002</b>"))
        // Fully offline: nothing is fetched from anywhere but the run folder.
        #expect(!html.contains("http:") && !html.contains("https:") && !html.contains("//cdn"))
    }

    @Test func captionsSayWhatTheGridRowsAreAndGridsAreNewestFirst() throws {
        let pix2pix = RunIndex(model: .pix2pix, runName: "r", epochsDone: 3, epochsTotal: 3, sampleEpochs: [2, 10, 1]).html()
        #expect(pix2pix.contains("<b>Epoch 10</b> · real_A | fake_B | real_B"))
        let positions = ["epoch_010", "epoch_002", "epoch_001"].compactMap { pix2pix.range(of: $0)?.lowerBound }
        #expect(positions.count == 3 && positions == positions.sorted())
        let cyclegan = RunIndex(model: .cyclegan, runName: "r", epochsDone: 1, epochsTotal: 3, sampleEpochs: [1]).html()
        #expect(cyclegan.contains("top row real_A | fake_B | rec_A | idt_B, bottom row real_B | fake_A | rec_B | idt_A"))
    }

    @Test func aRunningRunReloadsItselfAndAFinishedOneDoesNot() {
        let running = RunIndex(model: .pix2pix, runName: "r", epochsDone: 1, epochsTotal: 3, refreshSeconds: 45).html()
        #expect(running.contains("gantry.start(45)") && running.contains("<meta http-equiv=\"refresh\" content=\"45\">"))
        let finished = RunIndex(model: .pix2pix, runName: "r", epochsDone: 3, epochsTotal: 3, finished: true).html()
        #expect(finished.contains("gantry.start(0)") && !finished.contains("http-equiv=\"refresh\""))
        #expect(finished.contains("Epoch 3</b> of 3 — finished"))
    }

    @Test func scanReadsTheFolderAndUpdateReplacesThePageWhole() throws {
        let dir = try TemporaryDirectory()
        // Before the first epoch: no log, no samples.
        var index = try RunIndex.scan(runFolder: dir.url, model: .cyclegan, epochsTotal: 4)
        #expect(index.epochsDone == 0 && index.sampleEpochs.isEmpty && index.lastLR == nil && !index.finished)
        #expect(index.html().contains("waiting for the first epoch"))

        let log = try LossLog(url: dir.url.appendingPathComponent("losses.jsonl"))
        for epoch in 1...4 { try log.append(LossRecord(epoch: epoch, iter: 1, lr: 1e-4 * Double(5 - epoch), losses: [("D_A", Double(epoch))], seconds: 1)) }
        for name in ["epoch_001.png", "epoch_004.png", "epoch_x.png", "epoch_+02.png", "notes.txt"] { try dir.write("samples/\(name)", "") }
        index = try RunIndex.update(runFolder: dir.url, model: .cyclegan, epochsTotal: 4)
        #expect(index.epochsDone == 4 && index.finished && index.sampleEpochs.sorted() == [1, 4] && index.lastLR == 1e-4)
        #expect(index.lastLosses.map(\.name) == ["D_A"] && index.lastLosses.map(\.value) == [4])
        #expect(index.runName == dir.url.lastPathComponent)
        let written = try String(contentsOf: dir.url.appendingPathComponent("index.html"), encoding: .utf8)
        #expect(written.hasPrefix("<!DOCTYPE html>") && written.hasSuffix("</html>\n"))
        // Only index.html is left: no temporary file beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted() == ["index.html", "losses.jsonl", "samples"])
        #expect(try RunIndex.scan(runFolder: dir.url, model: .cyclegan, epochsTotal: 4, finished: false).finished == false)

        let gone = dir.url.appendingPathComponent("no-such-run")
        let error = try #require(throws: TrainingError.self) { try index.write(to: gone) }
        #expect(error.code == .writeFailed && error.message.hasPrefix(gone.appendingPathComponent("index.html").path + ": "))
    }
}
