import Checkpoints
import Foundation
import Testing
import TestSupport

/// The built `gantry` binary, run as a user would.
struct InspectCommandTests {
    @Test func inspectDescribesACheckpoint() throws {
        let r = try runGantry(["inspect", fixturesDirectory.appendingPathComponent("resnet9_instance_legacy_odd.pth").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("resnet_9blocks"))
        #expect(r.stdout.contains("pytorch-legacy"))
        #expect(r.stdout.contains("multiples of 4"))
    }

    @Test func inspectJSON() throws {
        let r = try runGantry(["inspect", "--json", fixturesDirectory.appendingPathComponent("stargan_c5.pth").path])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["network"] as? String == "stargan")
        #expect(obj["conditionChannels"] as? Int == 5)
        #expect(obj["format"] as? String == "pytorch-zip")
        #expect((obj["parameters"] as? Int ?? 0) > 0)
    }

    @Test func inspectRefusesHostileFilesWithOneLine() throws {
        let hostile = fixturesDirectory.appendingPathComponent("hostile")
        for file in try FileManager.default.contentsOfDirectory(atPath: hostile.path)
        where file.hasSuffix(".pth") || file.hasSuffix(".safetensors") {
            let r = try runGantry(["inspect", hostile.appendingPathComponent(file).path])
            #expect(r.status == 1, "\(file)")
            #expect(r.stdout.isEmpty)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(file): \(r.stderr)")
            #expect(r.stderr.contains(file))
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/gantry-pwned-fixture"))
    }

    @Test func missingFileAndUsageErrors() throws {
        let r = try runGantry(["inspect", "/nonexistent/model.pth"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/nonexistent/model.pth"))
        let usage = try runGantry(["inspect"])
        #expect(usage.status == 64)
    }

    @Test func architectureOverrideMismatchIsExplained() throws {
        let r = try runGantry(["inspect", "--norm", "batch", fixturesDirectory.appendingPathComponent("resnet6_instance.pth").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("missing") && r.stderr.contains("model.2.weight"))
    }
}

/// `gantry forward` against the PyTorch outputs (the fixtures' io files), and the behaviour
/// switches end to end.
struct ForwardCommandTests {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func starganDomainShorthand() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = fixturesDirectory.appendingPathComponent("stargan_c5.pth").path
        let io = fixturesDirectory.appendingPathComponent("stargan_c5.io.safetensors").path
        // The fixture's input has two images; --domain gives both the same label, so the
        // command must run and refuse bad labels clearly.
        let out = dir.appendingPathComponent("out.safetensors").path
        let ok = try runGantry(["forward", ckpt, io, out, "--domain", "2"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(FileManager.default.fileExists(atPath: out))
        let again = try runGantry(["forward", ckpt, io, out, "--domain", "2"])
        #expect(again.status == 1 && again.stderr.contains("already exists"))
        let bad = try runGantry(["forward", ckpt, io, out, "--overwrite", "--domain", "7"])
        #expect(bad.status == 64 || bad.status == 1)
        #expect(bad.stderr.contains("out of range"))
        let wrongCount = try runGantry(["forward", ckpt, io, out, "--overwrite", "--condition", "1,0"])
        #expect(wrongCount.stderr.contains("takes 5"))
        let missing = try runGantry(["forward", ckpt, io, out, "--overwrite"])
        #expect(missing.status != 0 && missing.stderr.contains("--condition"))
    }

    /// The written tensor is PyTorch's output for the fixture (its io file): whole for a CycleGAN
    /// resnet; for StarGAN, whose fixture gives each image its own labels and `--condition` one
    /// vector for all, the image whose labels it names. Tolerances as PyTorchParityTests
    /// (direct 1e-4, Winograd 2e-3 on the [−1, 1] scale).
    @Test(arguments: [("direct", Float(1e-4)), ("winograd", Float(2e-3))])
    func outputsArePyTorchs(_ algorithm: String, _ tolerance: Float) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, extra, images) in [("resnet6_instance", [String](), [0]), ("stargan_c5", ["--condition", "0,1,0,1,1"], [0])] {
            let ckpt = fixturesDirectory.appendingPathComponent("\(name).pth").path
            let io = fixturesDirectory.appendingPathComponent("\(name).io.safetensors")
            let out = dir.appendingPathComponent("\(name)-\(algorithm).safetensors")
            let r = try runGantry(["forward", ckpt, io.path, out.path, "--algorithm", algorithm] + extra)
            #expect(r.status == 0, "\(name): \(r.stderr)")
            let got = try #require(try Checkpoint.load(contentsOf: out).stateDict["output"])
            let want = try #require(try Checkpoint.load(contentsOf: io).stateDict["output"])
            #expect(got.shape == want.shape, "\(name)")
            let per = want.values.count / want.shape[0]
            for i in images where i < want.shape[0] {
                let worst = zip(got.values[(i * per)..<((i + 1) * per)], want.values[(i * per)..<((i + 1) * per)])
                    .map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= tolerance, "\(name) image \(i) with \(algorithm): max |Δ| \(worst)")
            }
        }
    }

    /// A tensor the network cannot take is the input file's fault, and the error names it.
    @Test func inputOfTheWrongShapeNamesTheInputFile() throws {
        let dir = try TemporaryDirectory()
        let input = dir.url.appendingPathComponent("five_channels.safetensors")
        try SafetensorsWriter.write(StateDict([("input", CheckpointTensor(shape: [1, 5, 16, 16], values: Array(repeating: 0, count: 1280)))]), to: input)
        let ckpt = fixturesDirectory.appendingPathComponent("resnet6_instance.pth").path
        let r = try runGantry(["forward", ckpt, input.path, dir.path("out.safetensors")])
        #expect(r.status == 1 && r.stderr.contains("\(input.path): resnet_6blocks expects N×3×H×W input, got [1, 5, 16, 16]"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out.safetensors")))
    }

    @Test func seedWithoutDropoutIsAUsageError() throws {
        let r = try runGantry(["forward", "a.pth", "b", "c", "--seed", "3"])
        #expect(r.status == 64)
    }
}
