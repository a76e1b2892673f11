import Engine
import Foundation
import Imaging
import Models
import Pipeline
import Testing
import TestSupport

/// `gantry convert` run as a user would, on temporary folders with a fixture model.
struct ConvertCommandTests {
    static let model = fixturesDirectory.appendingPathComponent("resnet6_instance.pth").path

    func convert(_ input: String, _ output: String, _ extra: [String] = []) throws -> CommandResult {
        try runGantry(["convert", input, "-m", Self.model, "-o", output] + extra)
    }

    func decode(_ path: String) throws -> DecodedImage {
        try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: path)), path: path)
    }

    @Test func mirrorsTheTreeAtNativeSize() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a/x.png", TestImages.png(width: 37, height: 29))
        try dir.write("in/b/c/y.jpg", TestImages.jpeg(width: 40, height: 24))
        try dir.write("in/b/gray.png", TestImages.png(width: 21, height: 18, channels: 1))
        try dir.write("in/notes.txt", "not an image")
        let r = try convert(dir.path("in"), dir.path("out"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("3 converted, 0 skipped, 0 failed"))
        #expect(r.stderr.contains("1 non-image files ignored"))
        let x = try decode(dir.path("out/a/x.png"))
        #expect((x.width, x.height) == (37, 29))
        let y = try decode(dir.path("out/b/c/y.png"))
        #expect((y.width, y.height) == (40, 24))
        #expect(FileManager.default.fileExists(atPath: dir.path("out/b/gray.png")))
    }

    struct ReferenceCase: Decodable, CustomTestStringConvertible {
        var name: String, checkpoint: String, input: String, output: String
        var gantry_flags: [String]
        var output_size: [Int]
        var testDescription: String { name }
    }

    static let referenceFolder = fixturesDirectory.appendingPathComponent("convert")
    static let referenceCases: [ReferenceCase] = {
        // The reference's test.py flow, and CUT's (tools/fixtures/make_cut_fixtures.py).
        ["cases.json", "cut_cases.json"].flatMap { name in
            let url = referenceFolder.appendingPathComponent(name)
            return (try? JSONDecoder().decode([ReferenceCase].self, from: Data(contentsOf: url))) ?? []
        }
    }()

    @Test func referenceCasesArePresent() {
        #expect(Self.referenceCases.count >= 9)
        #expect(Self.referenceCases.contains { $0.checkpoint.hasPrefix("cut/") })
    }

    /// The PNG `gantry convert` writes against the one the reference test.py flow writes
    /// (tools/fixtures/make_convert_fixtures.py: PIL decode, grey first, PIL bicubic, the
    /// generator in PyTorch, tensor2im's truncation): every value within one level, and at most
    /// 1% of them off at all, since float differences only move values that sit at a level's
    /// edge. Rounding instead of truncating moves about half of them.
    @Test(arguments: referenceCases, ["direct", "winograd"])
    func matchesTheReferenceTestFlow(_ c: ReferenceCase, algorithm: String) throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/\(c.input)", Data(contentsOf: Self.referenceFolder.appendingPathComponent(c.input)))
        let model = fixturesDirectory.appendingPathComponent(c.checkpoint).path
        let r = try runGantry(["convert", dir.path("in"), "-m", model, "-o", dir.path("out"), "--algorithm", algorithm] + c.gantry_flags)
        #expect(r.status == 0, "\(r.stderr)")
        let got = try decode(dir.path("out/\(c.input)"))
        let expected = try decode(Self.referenceFolder.appendingPathComponent(c.output).path)
        try #require((got.width, got.height) == (expected.width, expected.height) && (got.width, got.height) == (c.output_size[0], c.output_size[1]),
                     "\(c.name): \(got.width)×\(got.height), reference \(expected.width)×\(expected.height)")
        // tensor2im writes a one-plane output as RGB; Gantry writes it grey.
        var worst = 0, off = 0
        for i in 0..<(got.width * got.height) {
            for ch in 0..<3 {
                let a = Int(got.samples[i * got.colorChannels + min(ch, got.colorChannels - 1)])
                let d = abs(a - Int(expected.samples[i * expected.colorChannels + ch]))
                worst = max(worst, d)
                if d > 0 { off += 1 }
            }
        }
        let fraction = Double(off) / Double(got.width * got.height * 3)
        print("\(c.name) (\(algorithm)): \(off) values off by ≤ \(worst) level(s) (\(String(format: "%.3f", fraction * 100)) %)")
        #expect(worst <= 1 && fraction <= 0.01, "\(c.name): \(off) values differ, worst \(worst)")
    }

    @Test func alphaAndICCPassThrough() throws {
        let dir = try TemporaryDirectory()
        let icc = Data((0..<600).map { UInt8($0 % 251) })
        try dir.write("in/rgba.png", TestImages.png(width: 33, height: 20, alpha: true, icc: icc))
        let r = try convert(dir.path("in"), dir.path("out"))
        #expect(r.status == 0, "\(r.stderr)")
        let input = try decode(dir.path("in/rgba.png")), output = try decode(dir.path("out/rgba.png"))
        #expect(output.hasAlpha)
        #expect(output.iccProfile == icc)
        let alphaIn = stride(from: 3, to: input.samples.count, by: 4).map { input.samples[$0] }
        let alphaOut = stride(from: 3, to: output.samples.count, by: 4).map { output.samples[$0] }
        #expect(alphaIn == alphaOut)
    }

    @Test func exifOrientationIsApplied() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/rot.jpg", TestImages.withOrientation(try TestImages.jpeg(width: 40, height: 24), 6))
        let r = try convert(dir.path("in"), dir.path("out"))
        #expect(r.status == 0, "\(r.stderr)")
        let out = try decode(dir.path("out/rot.png"))
        #expect((out.width, out.height) == (24, 40))
    }

    @Test func existingOutputsNeedOverwriteOrSkip() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 16, height: 16))
        try dir.write("in/b.png", TestImages.png(width: 16, height: 16, seed: 1))
        #expect(try convert(dir.path("in"), dir.path("out")).status == 0)
        try dir.write("out/a.png", "user's own file")
        let again = try convert(dir.path("in"), dir.path("out"))
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"))
        #expect(try String(contentsOfFile: dir.path("out/a.png"), encoding: .utf8) == "user's own file")
        let resume = try convert(dir.path("in"), dir.path("out"), ["--skip-existing"])
        #expect(resume.status == 0 && resume.stderr.contains("0 converted, 2 skipped"))
        let replace = try convert(dir.path("in"), dir.path("out"), ["--overwrite"])
        #expect(replace.status == 0 && replace.stderr.contains("2 converted"))
        #expect(try decode(dir.path("out/a.png")).width == 16)
        // Not even --overwrite replaces an input with its own output: one file, or a folder onto itself.
        let photo = try Data(contentsOf: URL(fileURLWithPath: dir.path("in/a.png")))
        for (input, output) in [(dir.path("in/a.png"), dir.path("in/a.png")), (dir.path("in"), dir.path("in"))] {
            let onto = try convert(input, output, ["--overwrite"])
            #expect(onto.status == 1 && onto.stderr.contains("the output would replace its own input"), "\(onto.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("in/a.png"))) == photo)
        }
    }

    /// A device or a named pipe is no image: given as the input it is a usage error and nothing
    /// is created (`/dev/zero` used to make an empty output folder and exit 0); met in a folder
    /// it is skipped with a line saying what it is (a pipe named .png was passed over silently),
    /// and read directly it is named for what it is (it used to read as a permission problem).
    @Test func devicesAndPipesAreNotImages() throws {
        let dir = try TemporaryDirectory()
        let device = try convert("/dev/zero", dir.path("zero.png"))
        #expect(device.status == 64 && device.stderr.contains("/dev/zero: not a regular file or a folder"), "\(device.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("zero.png")))
        try dir.write("in/good.png", TestImages.png(width: 16, height: 16))
        #expect(mkfifo(dir.path("in/pipe.png"), 0o644) == 0)
        let r = try convert(dir.path("in"), dir.path("out"))
        #expect(r.status == 1 && r.stderr.contains("skipped pipe.png: a named pipe, not a regular file"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path("out/good.png")))
        #expect { try ImageCodec.decodeFile(atPath: dir.path("in/pipe.png")) } throws: {
            "\($0)".contains("cannot read the file: it is a named pipe, not a regular file")
        }
    }

    /// The suffix goes inside a file name: a '/' in it (`/../x` wrote outside the output
    /// folder) is a usage error for convert and watch, and a pipeline file error.
    @Test func suffixesCannotLeaveTheOutputFolder() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 16, height: 16))
        let r = try convert(dir.path("in"), dir.path("out"), ["--suffix", "/../escaped"])
        #expect(r.status == 64 && r.stderr.contains("--suffix must not contain '/'"), "\(r.stderr)")
        let w = try runGantry(["watch", dir.path("in"), "-m", Self.model, "-o", dir.path("out"), "--suffix", "/../escaped"])
        #expect(w.status == 64 && w.stderr.contains("--suffix must not contain '/'"), "\(w.stderr)")
        try dir.write("p.yaml", "model: \(Self.model)\nsuffix: /../escaped\n")
        let p = try runGantry(["convert", dir.path("in"), "--pipeline", dir.path("p.yaml"), "-o", dir.path("out")])
        #expect(p.status == 64 && p.stderr.contains("must not contain '/'"), "\(p.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("escaped.png")) && !FileManager.default.fileExists(atPath: dir.path("out")))
        #expect(try convert(dir.path("in"), dir.path("out"), ["--suffix", "_zebra"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path("out/a_zebra.png")))
    }

    @Test func badInputsAreReportedAndTheBatchGoesOn() throws {
        let dir = try TemporaryDirectory()
        let good = try TestImages.png(width: 20, height: 20)
        try dir.write("in/good.png", good)
        try dir.write("in/empty.jpg", Data())
        try dir.write("in/page.jpg", "<html><body>404</body></html>")
        try dir.write("in/truncated.png", good.prefix(good.count / 2))
        try dir.write("in/truncated.jpg", try TestImages.jpeg(width: 64, height: 64).prefix(400))
        try dir.write("in/bomb.png", TestImages.pngDeclaring(width: 100_000, height: 100_000))
        try dir.write("in/zero.png", TestImages.pngDeclaring(width: 0, height: 10))
        var crc = good
        crc[crc.count - 20] ^= 0xFF
        try dir.write("in/badcrc.png", crc)
        let r = try convert(dir.path("in"), dir.path("out"), ["--report", dir.path("report.jsonl")])
        #expect(r.status == 1)
        #expect(r.stderr.contains("1 converted, 0 skipped, 7 failed"))
        for name in ["empty.jpg", "page.jpg", "truncated.png", "truncated.jpg", "bomb.png", "zero.png", "badcrc.png"] {
            #expect(r.stderr.contains(name), "\(name) not reported")
            #expect(!FileManager.default.fileExists(atPath: dir.path("out/" + name.replacingOccurrences(of: ".jpg", with: ".png"))))
        }
        let lines = try String(contentsOfFile: dir.path("report.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 8)
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(records.filter { $0["status"] as? String == "failed" }.allSatisfy { ($0["error"] as? String)?.isEmpty == false })
        #expect(records.contains { ($0["input"] as? String)?.hasSuffix("good.png") == true && $0["status"] as? String == "converted" })
    }

    @Test func shardsSplitAFolderExactly() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<9 { try dir.write("in/d\(i % 2)/i\(i).png", TestImages.png(width: 12, height: 12, seed: i)) }
        for s in 0..<3 { #expect(try convert(dir.path("in"), dir.path("out"), ["--shard", "\(s)/3"]).status == 0) }
        let files = FileManager.default.enumerator(atPath: dir.path("out"))!.compactMap { $0 as? String }.filter { $0.hasSuffix(".png") }
        #expect(files.count == 9)
    }

    @Test func outputDoesNotDependOnJobsAndBarelyOnBatch() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<5 { try dir.write("in/i\(i).png", TestImages.png(width: 24, height: 20, seed: i)) }
        #expect(try convert(dir.path("in"), dir.path("a")).status == 0)
        #expect(try convert(dir.path("in"), dir.path("b"), ["--jobs", "2:2:2"]).status == 0)
        #expect(try convert(dir.path("in"), dir.path("c"), ["--batch", "3"]).status == 0)
        for i in 0..<5 {
            let a = try Data(contentsOf: URL(fileURLWithPath: dir.path("a/i\(i).png")))
            let b = try Data(contentsOf: URL(fileURLWithPath: dir.path("b/i\(i).png")))
            #expect(a == b, "i\(i).png differs with --jobs")
            // A batch runs other oneDNN kernels: float rounding may move a value by one level.
            let ca = try decode(dir.path("a/i\(i).png")).samples, cc = try decode(dir.path("c/i\(i).png")).samples
            #expect(zip(ca, cc).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "i\(i).png differs with --batch")
        }
    }

    @Test func singleFileToANamedFileAndCheckpointFolders() throws {
        let dir = try TemporaryDirectory()
        try dir.write("photo.png", TestImages.png(width: 20, height: 16))
        #expect(try convert(dir.path("photo.png"), dir.path("result.jpg")).status == 0)
        #expect(try ImageCodec.readHeader(Data(contentsOf: URL(fileURLWithPath: dir.path("result.jpg"))), path: "r").format == .jpeg)
        // A reference checkpoint folder: --direction picks G_A or G_B.
        try dir.write("ckpt/latest_net_G_B.pth", Data(contentsOf: URL(fileURLWithPath: Self.model)))
        let r = try runGantry(["convert", dir.path("photo.png"), "-m", dir.path("ckpt"), "--direction", "BtoA", "-o", dir.path("out")])
        #expect(r.status == 0, "\(r.stderr)")
        let missing = try runGantry(["convert", dir.path("photo.png"), "-m", dir.path("ckpt"), "--direction", "AtoB", "-o", dir.path("out2")])
        #expect(missing.status == 64 && missing.stderr.contains("latest_net_G_A.pth"))
    }

    @Test func dryRunWritesNothing() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 30, height: 22))
        let r = try convert(dir.path("in"), dir.path("out"), ["--dry-run"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("convert: a.png") && r.stdout.contains("[30×22]"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("out")))
    }

    @Test func pipelineFileWithOverrides() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 30, height: 22))
        try dir.write("p.yaml", "model: \(Self.model)\nformat: png\nsuffix: _t\n")
        let r = try runGantry(["convert", dir.path("in"), "--pipeline", dir.path("p.yaml"), "-o", dir.path("out"), "--format", "jpg"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path("out/a_t.jpg")))
        try dir.write("bad.yaml", "model: \(Self.model)\nformt: png\n")
        let bad = try runGantry(["convert", dir.path("in"), "--pipeline", dir.path("bad.yaml"), "-o", dir.path("out2")])
        #expect(bad.status == 64 && bad.stderr.contains("bad.yaml:2: unknown key 'formt'"))
    }

    @Test func usageErrors() throws {
        #expect(try runGantry(["convert", "in", "-m", Self.model, "-o", "out", "--overwrite", "--skip-existing"]).status == 64)
        #expect(try runGantry(["convert", "in", "-m", Self.model, "-o", "out", "--jobs", "2:2"]).status == 64)
        #expect(try runGantry(["convert", "/nonexistent", "-m", Self.model, "-o", "/tmp/x"]).status == 64)
    }

    @Test func killedRunLeavesOnlyCompleteOutputs() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<40 { try dir.write("in/i\(i).png", TestImages.png(width: 160, height: 120, seed: i)) }
        let process = Process()
        process.executableURL = gantryExecutable
        process.arguments = ["convert", dir.path("in"), "-m", Self.model, "-o", dir.path("out"), "--quiet"]
        try process.run()
        // Kill it once some outputs exist, mid-run.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let n = (try? FileManager.default.contentsOfDirectory(atPath: dir.path("out")))?.filter { $0.hasSuffix(".png") }.count ?? 0
            if n >= 3 { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path("out"))
        for name in names where !name.hasPrefix(".") {
            let img = try decode(dir.path("out/" + name))
            #expect((img.width, img.height) == (160, 120), "\(name) is incomplete")
        }
        // Resuming finishes the rest and clears the dead run's temporary files.
        let resume = try convert(dir.path("in"), dir.path("out"), ["--skip-existing"])
        #expect(resume.status == 0, "\(resume.stderr)")
        let after = try FileManager.default.contentsOfDirectory(atPath: dir.path("out"))
        #expect(after.filter { $0.hasSuffix(".png") && !$0.hasPrefix(".") }.count == 40)
        #expect(after.allSatisfy { !$0.hasPrefix(".") })
    }
}

/// Every colour type, bit depth and broken file of the codec fixtures through `gantry convert`.
struct ConvertCodecFixtureTests {
    static let codecFixtures = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("ImagingTests/Fixtures")

    @Test func everyGoodFixtureConvertsAndEveryBadOneFailsAlone() throws {
        let dir = try TemporaryDirectory()
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.codecFixtures.path)
            .filter { [".png", ".jpg", ".tif", ".webp"].contains(where: $0.hasSuffix) }
        for name in names {
            try dir.write("in/" + name, Data(contentsOf: Self.codecFixtures.appendingPathComponent(name)))
        }
        let r = try runGantry(["convert", dir.path("in"), "-m", ConvertCommandTests.model, "-o", dir.path("out"),
                               "--report", dir.path("r.jsonl"), "--format", "same"])
        #expect(r.status == 1)
        let records = try String(contentsOfFile: dir.path("r.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let status = Dictionary(uniqueKeysWithValues: records.map {
            (URL(fileURLWithPath: $0["input"] as! String).lastPathComponent, $0["status"] as! String)
        })
        let expected = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.codecFixtures.appendingPathComponent("expected.json"))) as! [String: [String: Any]]
        let bad = Set(expected["bad"]!.keys), good = expected["good"]!
        #expect(bad.count >= 20 && good.count >= 30)
        for name in names {
            #expect(status[name] == (bad.contains(name) ? "failed" : "converted"), "\(name): \(status[name] ?? "missing")")
        }
        // Every good file (16-bit, palette, gray+alpha, CMYK, each orientation…) keeps its decoded size.
        for (name, info) in good {
            guard let info = info as? [String: Any], let w = info["width"] as? Int, let h = info["height"] as? Int else { continue }
            let out = dir.path("out/" + name)
            let img = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: out)), path: out)
            #expect((img.width, img.height) == (w, h), "\(name)")
        }
        let rotated = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: dir.path("out/jpeg_orientation_6.jpg"))), path: "o6")
        let upright = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: dir.path("out/jpeg_orientation_1.jpg"))), path: "o1")
        #expect((rotated.width, rotated.height) == (upright.height, upright.width))
    }
}
