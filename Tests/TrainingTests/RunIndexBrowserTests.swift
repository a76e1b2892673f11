import Engine
import Foundation
import Imaging
import Runs
import TestSupport
import Testing
import Training

/// `RUN/index.html` as a real browser shows it: Debian's Chromium, headless, on a run folder
/// written by the trainer's own writers (losses.jsonl, loss_curves.svg, sample grids).
@Suite(.serialized) struct RunIndexBrowserTests {
    /// Each epoch's grid is one pure colour (tensor2im levels 0 / 255), none of which the page
    /// itself uses, so where a colour shows up in the screenshot is where that grid is drawn.
    static let gridColours: [Int: [UInt16]] = [1: [255, 0, 0], 2: [0, 255, 0], 3: [255, 0, 255]]
    /// LossCurves' strokes: smoothed and raw.
    static let smoothedStroke: [UInt16] = [0x08, 0x51, 0x9c], rawStroke: [UInt16] = [0x9e, 0xca, 0xe1]
    /// The page's "missing" note background (#fff3cd).
    static let missingNote: [UInt16] = [0xff, 0xf3, 0xcd]
    static let tile = 48

    /// A pix2pix run folder after three of ten epochs, as the Trainer leaves it.
    static func makeRun(in dir: TemporaryDirectory) throws -> URL {
        let run = dir.url.appendingPathComponent("facades_pix2pix")
        try FileManager.default.createDirectory(at: run.appendingPathComponent("samples"), withIntermediateDirectories: true)
        let log = try LossLog(url: run.appendingPathComponent("losses.jsonl"))
        for epoch in 1...3 {
            for iter in 1...10 {
                let t = Double((epoch - 1) * 10 + iter)
                try log.append(LossRecord(epoch: epoch, iter: iter, lr: 2e-4, losses: [
                    ("G_GAN", 0.9 + 0.3 * sin(t)), ("G_L1", 40 / (1 + 0.1 * t)), ("D_real", 0.6 - 0.01 * t), ("D_fake", 0.5 + 0.1 * cos(t)),
                ], seconds: 1.3))
            }
            let colour = gridColours[epoch]!.map { Float($0) / 127.5 - 1 }
            let plane = tile * tile
            let image = try Tensor(shape: [1, 3, tile, tile], values: colour.flatMap { Array(repeating: $0, count: plane) })
            try SampleGrid.png([[image, image, image]]).write(to: run.appendingPathComponent(RunIndex.samplePath(epoch: epoch)))
        }
        try Data(LossCurves.svg(try LossLog.read(log.url)).utf8).write(to: run.appendingPathComponent("loss_curves.svg"))
        return run
    }

    @Test func everyImageLoadsAndTheScreenshotShowsTheCurvesAndEveryGridNewestFirst() throws {
        let dir = try TemporaryDirectory()
        let run = try Self.makeRun(in: dir)
        let index = try RunIndex.update(runFolder: run, model: .pix2pix, epochsTotal: 10)
        #expect(index.epochsDone == 3 && !index.finished && index.sampleEpochs.sorted() == [1, 2, 3])
        guard let browser = try Chromium(dir) else { return }

        let dom = try browser.dom(of: run.appendingPathComponent("index.html"))
        #expect(dom.body["data-images"] == "4" && dom.body["data-loaded"] == "4" && dom.body["data-failed"] == "0", "\(dom.body)")
        #expect(dom.images.count == 4)
        for image in dom.images {
            #expect(image["data-state"] == "loaded" && (Int(image["data-width"] ?? "") ?? 0) > 0, "\(image)")
        }
        #expect(dom.images.map { $0["src"] ?? "" } == ["loss_curves.svg?epoch=3", "samples/epoch_003.png", "samples/epoch_002.png",
                                                       "samples/epoch_001.png"])

        let shot = try browser.screenshot(of: run.appendingPathComponent("index.html"), width: 900, height: 1400)
        let grids = try [3, 2, 1].map { epoch in
            let rows = shot.rows(of: Self.gridColours[epoch]!)
            // Three 48×48 tiles, drawn at their natural size.
            #expect(rows.count >= 3 * Self.tile * Self.tile, "epoch \(epoch)'s grid colour covers \(rows.count) pixels")
            return try #require(rows.min(), "epoch \(epoch)'s grid is not in the screenshot")
        }
        #expect(grids == grids.sorted(), "grids are not newest first: top rows \(grids)")
        // The curves: both strokes drawn, all of them above the first grid.
        let smoothed = shot.rows(of: Self.smoothedStroke, tolerance: 12), raw = shot.rows(of: Self.rawStroke, tolerance: 12)
        #expect(smoothed.count > 200 && raw.count > 100, "curve pixels: smoothed \(smoothed.count), raw \(raw.count)")
        #expect((smoothed + raw).allSatisfy { $0 < grids[0] })
        #expect(shot.rows(of: Self.missingNote, tolerance: 2).isEmpty, "a 'missing' note is shown though every image loaded")
        let fullHeight = (smoothed.max() ?? 0) - (smoothed.min() ?? 0)

        // A phone's width: the 720-pixel curves shrink to fit instead of running off the side.
        let narrow = try browser.screenshot(of: run.appendingPathComponent("index.html"), width: 390, height: 1000)
        // Shrunk lines blend with the white around them: a looser match.
        let curves = narrow.pixels(of: Self.smoothedStroke, tolerance: 48)
        let height = (curves.map(\.y).max() ?? 0) - (curves.map(\.y).min() ?? 0)
        #expect(curves.count > 50 && Double(height) < 0.6 * Double(fullHeight), "curves \(height) pixels high, \(fullHeight) when wide")
        #expect(curves.allSatisfy { $0.x < 390 - 20 })
        for epoch in 1...3 { #expect(narrow.rows(of: Self.gridColours[epoch]!).count >= 3 * Self.tile * Self.tile) }
    }

    @Test func aGridThatCannotBeReadIsMarkedMissingNotShownBroken() throws {
        let dir = try TemporaryDirectory()
        let run = try Self.makeRun(in: dir)
        try RunIndex.update(runFolder: run, model: .pix2pix, epochsTotal: 10)
        // As if the browser reloaded while epoch 2's grid was being replaced.
        try FileManager.default.removeItem(at: run.appendingPathComponent(RunIndex.samplePath(epoch: 2)))
        guard let browser = try Chromium(dir) else { return }

        let dom = try browser.dom(of: run.appendingPathComponent("index.html"))
        #expect(dom.body["data-loaded"] == "3" && dom.body["data-failed"] == "1", "\(dom.body)")
        let missing = try #require(dom.images.first { $0["src"] == "samples/epoch_002.png" })
        #expect(missing["data-state"] == "missing" && missing["hidden"] != nil, "\(missing)")
        #expect(dom.text.contains("<figure class=\"missing\">"))

        let shot = try browser.screenshot(of: run.appendingPathComponent("index.html"), width: 900, height: 1400)
        #expect(shot.rows(of: Self.gridColours[2]!).isEmpty)
        let note = shot.rows(of: Self.missingNote, tolerance: 2)
        let (newer, older) = (shot.rows(of: Self.gridColours[3]!), shot.rows(of: Self.gridColours[1]!))
        #expect(note.count > 2000, "the missing grid's note covers \(note.count) pixels")
        // In the missing grid's place, between its neighbours.
        if let top = note.min(), let bottom = note.max(), let newer = newer.max(), let older = older.min() {
            #expect(newer < top && bottom < older, "note rows \(top)...\(bottom), epoch 3 ends at \(newer), epoch 1 starts at \(older)")
            // Nothing but the note in the figure: a broken-image box above it would push it down
            // (the figures' captions are alike, so the gaps above and below the note match).
            #expect(abs((top - newer) - (older - bottom)) <= 2, "gaps \(top - newer) above the note, \(older - bottom) below")
        } else {
            Issue.record("the note or a neighbouring grid is not in the screenshot")
        }
    }
}

/// Debian's Chromium, headless, with a throw-away profile; each run is killed after 60 s.
struct Chromium {
    static let executable = URL(fileURLWithPath: "/usr/bin/chromium")
    let home: URL

    /// nil (and a recorded failure) when Chromium is not installed: these tests must not pass
    /// silently on a machine that cannot run them.
    init?(_ dir: TemporaryDirectory) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
            Issue.record("\(Self.executable.path) not found: install Debian's chromium (apt-get install chromium; .ci/run installs it)")
            return nil
        }
        home = dir.url.appendingPathComponent("chromium-home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    /// The DOM after the page's scripts ran and its images loaded or failed.
    func dom(of page: URL) throws -> DOM {
        DOM(text: try run(["--virtual-time-budget=5000", "--dump-dom", page.absoluteString]).stdout)
    }

    /// The top `width`×`height` pixels of the page, at one pixel per CSS pixel.
    func screenshot(of page: URL, width: Int, height: Int) throws -> Screenshot {
        let file = home.appendingPathComponent("screenshot-\(UUID().uuidString).png")
        _ = try run(["--force-device-scale-factor=1", "--window-size=\(width),\(height)", "--virtual-time-budget=5000",
                     "--screenshot=\(file.path)", page.absoluteString])
        // To look at what the tests saw: GANTRY_TEST_SCREENSHOTS=<folder>.
        if let keep = ProcessInfo.processInfo.environment["GANTRY_TEST_SCREENSHOTS"] {
            try? FileManager.default.copyItem(atPath: file.path, toPath: keep + "/" + file.lastPathComponent)
        }
        return Screenshot(try ImageCodec.decodeFile(atPath: file.path))
    }

    private func run(_ arguments: [String]) throws -> CommandResult {
        // timeout(1) signals the whole process group, so Chromium's helper processes go too.
        let result = try runCommand(URL(fileURLWithPath: "/usr/bin/timeout"), ["-k", "5", "60", Self.executable.path,
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--user-data-dir=\(home.appendingPathComponent("profile").path)"] + arguments, environment: ["HOME": home.path])
        guard result.status == 0 else {
            throw BrowserFailure(description: "chromium exited with \(result.status)\(result.status == 124 ? " (killed after 60 s)" : ""): "
                                 + result.stderr.suffix(2000))
        }
        return result
    }

    struct BrowserFailure: Error, CustomStringConvertible { let description: String }
}

/// `--dump-dom`'s serialization, read just enough for these tests: attributes of `<body>` and
/// of each `<img>`, in document order.
struct DOM {
    let text: String
    var body: [String: String] { tags("body").first ?? [:] }
    var images: [[String: String]] { tags("img") }

    private func tags(_ name: String) -> [[String: String]] {
        text.components(separatedBy: "<\(name) ").dropFirst().map { rest in
            let tag = rest.prefix { $0 != ">" }
            var attributes: [String: String] = [:]
            // Chromium serializes every attribute as name="value" (hidden as hidden="").
            for match in tag.matches(of: /([a-zA-Z-]+)="([^"]*)"/) { attributes[String(match.1)] = String(match.2) }
            return attributes
        }
    }
}

/// A decoded screenshot, searched by colour.
struct Screenshot {
    let image: DecodedImage
    init(_ image: DecodedImage) { self.image = image }

    /// Every pixel within `tolerance` (per channel) of `rgb`.
    func pixels(of rgb: [UInt16], tolerance: UInt16 = 3) -> [(x: Int, y: Int)] {
        let stride = image.channelsPerPixel, s = image.samples
        var found: [(x: Int, y: Int)] = []
        for y in 0..<image.height {
            for x in 0..<image.width {
                let p = (y * image.width + x) * stride
                if (0..<3).allSatisfy({ max(s[p + $0], rgb[$0]) - min(s[p + $0], rgb[$0]) <= tolerance }) { found.append((x, y)) }
            }
        }
        return found
    }

    /// The row of every pixel within `tolerance` of `rgb`.
    func rows(of rgb: [UInt16], tolerance: UInt16 = 3) -> [Int] { pixels(of: rgb, tolerance: tolerance).map(\.y) }
}
