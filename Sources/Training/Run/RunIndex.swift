import AtomicFiles
import Foundation
import Runs

/// `RUN/index.html`: a page to keep open in a browser while a run trains — the run's status,
/// its loss curves and every epoch's sample grid, newest first.
///
/// The page is one self-contained file (its CSS and a few lines of script inline, no fonts,
/// scripts or styles from elsewhere) that refers to the run folder's own `loss_curves.svg` and
/// `samples/epoch_NNN.png` by relative `<img>` links, so it works from `file://`. While the run
/// trains it reloads itself every `refreshSeconds`; a finished run's page stays still.
///
/// An image that does not load (a grid not written yet, or mid-write) is marked as missing in
/// place rather than shown as a broken icon. The page's script records what happened in the DOM:
/// `<body data-images data-loaded data-failed>` counts, and each image's `data-state`
/// ("loaded" or "missing") and `data-width` (its natural width). The four newest grids load at
/// once; older ones only when scrolled near, so they count as neither loaded nor failed until then.
public struct RunIndex: Sendable {
    /// Decides what the captions say the grids' rows and columns are.
    public var model: TrainingRecipe
    /// Shown in the title; the run folder's name when built by `scan`.
    public var runName: String
    /// The last epoch with a loss record (0 before the first one).
    public var epochsDone: Int
    /// The run's last epoch (`n_epochs + n_epochs_decay`).
    public var epochsTotal: Int
    /// The most recent iteration's losses, in the log's order.
    public var lastLosses: [(name: String, value: Double)]
    /// The learning rate of the most recent iteration; nil before the first one.
    public var lastLR: Double?
    /// Epochs to show a sample grid for (in any order; the page lists them newest first).
    public var sampleEpochs: [Int]
    /// When the summary was taken; the page shows it in UTC, with its age when viewed.
    public var updated: Date
    /// A finished run's page does not reload itself.
    public var finished: Bool
    /// How often an unfinished run's page reloads itself.
    public var refreshSeconds: Int

    public init(model: TrainingRecipe, runName: String, epochsDone: Int, epochsTotal: Int,
                lastLosses: [(name: String, value: Double)] = [], lastLR: Double? = nil, sampleEpochs: [Int] = [],
                updated: Date = Date(), finished: Bool = false, refreshSeconds: Int = 30) {
        (self.model, self.runName, self.epochsDone, self.epochsTotal) = (model, runName, epochsDone, epochsTotal)
        (self.lastLosses, self.lastLR, self.sampleEpochs) = (lastLosses, lastLR, sampleEpochs)
        (self.updated, self.finished, self.refreshSeconds) = (updated, finished, refreshSeconds)
    }

    /// The grid file of `epoch`, relative to the run folder, as `Trainer` names it.
    public static func samplePath(epoch: Int) -> String { "samples/" + String(format: "epoch_%03d.png", epoch) }

    /// StarGAN counts iterations and names its grids as its solver does (`<iter>-images.png`).
    static func samplePath(_ n: Int, model: TrainingRecipe) -> String {
        model == .stargan ? "samples/\(n)-images.png" : samplePath(epoch: n)
    }

    /// What `epochsDone` counts.
    var unit: String { model == .stargan ? "Iteration" : "Epoch" }

    /// The summary of the run folder as it is now: the last record of `losses.jsonl` and every
    /// `samples/epoch_*.png`. `finished` defaults to "the last epoch has a record".
    public static func scan(runFolder: URL, model: TrainingRecipe, epochsTotal: Int, finished: Bool? = nil,
                            now: Date = Date()) throws -> RunIndex {
        let last = try LossLog.read(runFolder.appendingPathComponent("losses.jsonl")).last
        let files = (try? FileManager.default.contentsOfDirectory(atPath: runFolder.appendingPathComponent("samples").path)) ?? []
        let (prefix, suffix) = model == .stargan ? ("", "-images.png") : ("epoch_", ".png")
        let epochs = files.compactMap { name -> Int? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            return digits.allSatisfy { $0.isASCII && $0.isNumber } ? Int(digits) : nil
        }
        let done = (model == .stargan ? last?.iter : last?.epoch) ?? 0
        return RunIndex(model: model, runName: runFolder.standardizedFileURL.lastPathComponent, epochsDone: done,
                        epochsTotal: epochsTotal, lastLosses: last?.losses ?? [], lastLR: last?.lr,
                        sampleEpochs: epochs, updated: now, finished: finished ?? (done >= epochsTotal))
    }

    /// Rewrites `RUN/index.html` from the folder's current contents: what the trainer calls after
    /// each epoch (after the loss curves and the sample grid are written).
    @discardableResult
    public static func update(runFolder: URL, model: TrainingRecipe, epochsTotal: Int, finished: Bool? = nil) throws -> RunIndex {
        let index = try scan(runFolder: runFolder, model: model, epochsTotal: epochsTotal, finished: finished)
        try index.write(to: runFolder)
        return index
    }

    /// Writes `index.html` into `runFolder` whole or not at all (a temporary file in the folder,
    /// renamed over the old page), so a browser reloading it never reads half a page.
    public func write(to runFolder: URL) throws {
        do { try AtomicFile.write(html(), to: runFolder.appendingPathComponent("index.html")) } catch {
            throw TrainingError(.writeFailed, "\(error)", cause: error)
        }
    }

    /// The page.
    public func html() -> String {
        let title = "\(escapeMarkup(runName)) · \(model.rawValue)"
        let epochs = sampleEpochs.sorted(by: >)
        // The first few grids load at once; older ones only when scrolled to, so a long run's
        // page does not decode hundreds of grids on every reload.
        let grids = epochs.enumerated().map { k, epoch in
            figure(src: Self.samplePath(epoch, model: model), alt: "sample grid of \(unit.lowercased()) \(epoch)", lazy: k >= 4,
                   caption: "<b>\(unit) \(epoch)</b> · \(layout)", note: "\(Self.samplePath(epoch, model: model)) is not readable (yet)")
        }
        let refresh = finished ? "" : "<noscript><meta http-equiv=\"refresh\" content=\"\(refreshSeconds)\"></noscript>\n"
        // The curves change every epoch: a new query string defeats any cache on reload.
        let curves = figure(src: "loss_curves.svg?epoch=\(epochsDone)", alt: "loss curves", lazy: false,
                            caption: "Raw values (light) and smoothed (dark), one panel per loss; open the image for full size",
                            note: "loss_curves.svg is not written yet (it appears after the first epoch)")
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        \(refresh)<title>\(title) — Gantry</title>
        <style>\(Self.style)</style>
        <script>\(Self.script)
        gantry.start(\(finished ? 0 : refreshSeconds));
        </script>
        </head>
        <body data-images="\(1 + epochs.count)" data-loaded="0" data-failed="0" data-finished="\(finished)">
        <header>
        <h1>\(escapeMarkup(runName)) <span class="model">\(model.rawValue)</span></h1>
        <p class="status">\(status)</p>
        </header>
        <section id="curves">
        <h2>Loss curves</h2>
        \(curves)
        </section>
        <section id="samples">
        <h2>Samples <small>(newest first)</small></h2>
        \(grids.isEmpty ? "<p class=\"empty\">No sample grid yet: one is written after each epoch.</p>" : grids.joined(separator: "\n"))
        </section>
        </body>
        </html>

        """
    }

    /// What the grid's rows and columns are, as `Trainer` draws them.
    private var layout: String {
        switch model {
        case .pix2pix: return "real_A | fake_B | real_B <span class=\"hint\">(input, generated, target)</span>"
        case .colorization: return "real_A | fake_B_rgb | real_B_rgb <span class=\"hint\">(the L input, its L with the predicted ab, the photo)</span>"
        case .cyclegan:
            return "top row real_A | fake_B | rec_A | idt_B, bottom row real_B | fake_A | rec_B | idt_A "
                + "<span class=\"hint\">(input, translated, translated back, identity)</span>"
        case .cut: return "real_A | fake_B | real_B | idt_B <span class=\"hint\">(input, translated, a B image, B through G)</span>"
        case .fastcut: return "real_A | fake_B | real_B <span class=\"hint\">(input, translated, a B image)</span>"
        case .stargan: return "input | the input translated to each domain, one row per sample image"
        case .dcgan: return "G(z) for the same 64 noise vectors every epoch"
        }
    }

    private var status: String {
        var parts = [epochsDone == 0 ? "<span>waiting for the first \(unit.lowercased())</span>"
                                     : "<span><b>\(unit) \(epochsDone)</b> of \(epochsTotal)\(finished ? " — finished" : "")</span>"]
        parts += lastLosses.map { "<span>\(escapeMarkup($0.name)) <b>\(Self.number($0.value))</b></span>" }
        if let lastLR { parts.append("<span>lr <b>\(Self.number(lastLR))</b></span>") }
        let stamp = ISO8601DateFormatter.string(from: updated, timeZone: TimeZone(identifier: "UTC")!,
                                                formatOptions: [.withInternetDateTime])
        let shown = stamp.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
        parts.append("<span>updated <time datetime=\"\(stamp)\">\(shown)</time><span id=\"age\"></span></span>")
        if !finished { parts.append("<span class=\"hint\">reloads every \(refreshSeconds) s</span>") }
        return parts.joined(separator: "\n")
    }

    private func figure(src: String, alt: String, lazy: Bool, caption: String, note: String) -> String {
        """
        <figure>
        <a href="\(src)"><img src="\(src)" alt="\(alt)"\(lazy ? " loading=\"lazy\"" : "") onload="gantry.loaded(this)" onerror="gantry.failed(this)"></a>
        <div class="note">\(note)</div>
        <figcaption>\(caption)</figcaption>
        </figure>
        """
    }

    private static func number(_ v: Double) -> String { v.isFinite ? String(format: "%.4g", v) : "\(v)" }

    private static let style = """

    body { margin: 0 auto; max-width: 1100px; padding: 12px; font: 15px/1.4 system-ui, sans-serif; color: #222; background: #f4f4f1; }
    h1 { font-size: 1.35rem; margin: 0 0 6px; overflow-wrap: anywhere; }
    h2 { font-size: 1.1rem; margin: 18px 0 8px; }
    h2 small, .hint { color: #666; font-weight: normal; }
    .model { font-size: .75rem; background: #333; color: #fff; padding: 2px 7px; border-radius: 4px; vertical-align: middle; }
    .status { margin: 0; display: flex; flex-wrap: wrap; gap: 2px 14px; }
    .status span { white-space: nowrap; }
    figure { margin: 0 0 14px; padding: 8px; background: #fff; border: 1px solid #ddd; border-radius: 6px; }
    figure img { display: block; max-width: 100%; height: auto; }
    figcaption { margin-top: 6px; font-size: .85rem; color: #444; overflow-wrap: anywhere; }
    .note { display: none; padding: 18px; color: #6b4f00; background: #fff3cd; border: 2px dashed #c9a227; }
    [hidden] { display: none !important; }
    figure.missing .note { display: block; }

    """

    // Inline handlers call into this, defined before the first <img> is parsed; the counters
    // let anyone (a test, a curious user in the console) see what the page actually showed.
    private static let script = """

    var gantry = (function () {
      var loaded = 0, failed = 0;
      function count() { document.body.dataset.loaded = loaded; document.body.dataset.failed = failed; }
      return {
        loaded: function (img) {
          img.dataset.state = "loaded"; img.dataset.width = img.naturalWidth; loaded++; count();
        },
        failed: function (img) {
          img.dataset.state = "missing"; img.hidden = true; img.closest("figure").classList.add("missing"); failed++; count();
        },
        start: function (seconds) {
          document.addEventListener("DOMContentLoaded", function () {
            var t = document.querySelector("time"), age = document.getElementById("age");
            var minutes = Math.round((Date.now() - Date.parse(t.getAttribute("datetime"))) / 60000);
            if (minutes >= 1) age.textContent = " (" + (minutes < 120 ? minutes + " min" : Math.round(minutes / 60) + " h") + " ago)";
          });
          // reload() keeps the scroll position, which a meta refresh may not.
          if (seconds > 0) setTimeout(function () { location.reload(); }, seconds * 1000);
        }
      };
    })();
    """
}

/// `s` as HTML or SVG text or attribute value: run names and loss names come from files.
func escapeMarkup(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        .replacingOccurrences(of: "'", with: "&#39;")
}
