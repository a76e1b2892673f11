import Foundation
import Testing
import TestSupport

/// `gantry export` as a user runs it: PyTorch-made checkpoints of every family exported, then
/// run by onnxruntime on the PyTorch fixtures' inputs and compared with PyTorch's outputs
/// (where `GANTRY_ONNX_PYTHON` has onnx and onnxruntime); run folders; and bad input.
struct ExportCommandTests {
    struct Case: Sendable, CustomStringConvertible {
        var checkpoint: String
        var io: String
        var flags: [String] = []
        var description: String { checkpoint + (flags.isEmpty ? "" : " " + flags.joined(separator: " ")) }
    }

    static let cases: [Case] = [
        Case(checkpoint: "resnet6_instance.pth", io: "resnet6_instance.io.safetensors"),
        Case(checkpoint: "resnet9_instance_legacy_odd.pth", io: "resnet9_instance_legacy_odd.io.safetensors"),
        Case(checkpoint: "resnet2_batch_dropout.pth", io: "resnet2_batch_dropout_running.io.safetensors", flags: ["--eval"]),
        Case(checkpoint: "resnet3_none_gray.pth", io: "resnet3_none_gray.io.safetensors"),
        Case(checkpoint: "unet5_batch_dropout.pth", io: "unet5_batch_dropout_running.io.safetensors",
             flags: ["--eval", "--dropout-layers", "true"]),
        Case(checkpoint: "unet7_instance_legacy.pth", io: "unet7_instance_legacy.io.safetensors"),
        Case(checkpoint: "unet6_none_to1.pth", io: "unet6_none_to1.io.safetensors"),
        Case(checkpoint: "stargan_c5.pth", io: "stargan_c5.io.safetensors"),
        Case(checkpoint: "stargan_c2_odd.pth", io: "stargan_c2_odd.io.safetensors"),
        Case(checkpoint: "cut/cut_resnet2.pth", io: "cut/cut_resnet2.io.safetensors"),
        Case(checkpoint: "cut/cut_resnet2_no_antialias_up.pth", io: "cut/cut_resnet2_no_antialias_up.io.safetensors"),
        Case(checkpoint: "cut/cut_resnet3_no_antialias.pth", io: "cut/cut_resnet3_no_antialias.io.safetensors"),
    ]

    static let script = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/fixtures/make_onnx_fixtures.py")

    @Test(arguments: cases)
    func exportedCheckpointMatchesPyTorch(_ c: Case) throws {
        let dir = try TemporaryDirectory()
        let out = dir.path("model.onnx")
        let r = try runGantry(["export", fixturesDirectory.appendingPathComponent(c.checkpoint).path, "-o", out] + c.flags)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("→ \(out)") && r.stdout.contains("opset 17"), "\(r.stdout)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(bytes.starts(with: [0x08, 0x08]), "ir_version 8 first")
        guard let python = onnxPython(for: "gantry export \(c.checkpoint) against PyTorch") else { return }
        let check = try runCommand(python, [Self.script.path, "io", out, fixturesDirectory.appendingPathComponent(c.io).path])
        print("\(c): " + check.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    @Test func runFoldersExport() throws {
        let dir = try TemporaryDirectory()
        let p2p = try TrainedRunFixtures.pix2pix(in: dir)
        let colour = try TrainedRunFixtures.colorization(in: dir)
        for (run, name) in [(p2p, "p2p.onnx"), (colour, "colour.onnx")] {
            let r = try runGantry(["export", run, "-o", dir.path(name)])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir.path(name)))
        }
        let colourLine = try runGantry(["export", colour, "-o", dir.path("colour.onnx"), "--overwrite"])
        #expect(colourLine.stdout.contains("image[batch,1,height,width]"), "\(colourLine.stdout)")
    }

    @Test func badInputIsOneLineAndLeavesNoFile() throws {
        let dir = try TemporaryDirectory()
        let model = fixturesDirectory.appendingPathComponent("resnet6_instance.pth").path
        // No such folder for the output: nothing written anywhere.
        let missing = try runGantry(["export", model, "-o", dir.path("no/such/model.onnx")])
        #expect(missing.status == 1 && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("no")))
        // An existing file is kept unless --overwrite.
        try Data("keep".utf8).write(to: URL(fileURLWithPath: dir.path("m.onnx")))
        let exists = try runGantry(["export", model, "-o", dir.path("m.onnx")])
        #expect(exists.status == 64 && exists.stderr.contains("already exists"), "\(exists.stderr)")
        #expect(try String(contentsOfFile: dir.path("m.onnx"), encoding: .utf8) == "keep")
        #expect(try runGantry(["export", model, "-o", dir.path("m.onnx"), "--overwrite"]).status == 0)
        // Names that are not an .onnx file.
        #expect(try runGantry(["export", model, "-o", dir.path("m.txt")]).status == 64)
        #expect(try runGantry(["export", model, "-o", dir.path("")]).status == 64)
        // Things that are not generators, each named.
        let d = try runGantry(["export", fixturesDirectory.appendingPathComponent("discriminators").path + "/d_basic_instance.pth",
                               "-o", dir.path("d.onnx")])
        #expect(d.status != 0 && d.stderr.split(separator: "\n").count == 1, "\(d.stderr)")
        let hostile = fixturesDirectory.appendingPathComponent("hostile")
        for file in try FileManager.default.contentsOfDirectory(atPath: hostile.path).sorted().prefix(6) where file.hasSuffix(".pth") {
            let r = try runGantry(["export", hostile.appendingPathComponent(file).path, "-o", dir.path("h.onnx")])
            #expect(r.status == 1 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(file), "\(file): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("d.onnx")) && !FileManager.default.fileExists(atPath: dir.path("h.onnx")))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path("")).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
    }
}
