import Engine
import Foundation
@testable import Models
import ONNXExport
import TestSupport
import Testing

/// Exported models computed by onnxruntime against Gantry's own forward (what convert runs:
/// each image's own statistics, no dropout; or running statistics with --eval), on every
/// generator family and layer variant.
///
/// Two checks. **Live**, where `GANTRY_ONNX_PYTHON` names a Python with onnx and onnxruntime
/// (`.ci/run` makes one): `tools/fixtures/make_onnx_fixtures.py check` runs `onnx.checker`
/// (full_check) and onnxruntime on the files just exported. **Recorded**, always: the committed
/// `Tests/Fixtures/onnx/` holds the SHA-256 of each file as that script last checked it and
/// onnxruntime's outputs; an export byte-identical to it must match those outputs. A changed
/// exporter fails here until the fixtures are made again (the script's docstring says how).
@Suite(.serialized)
struct ONNXExportTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var network: @Sendable () throws -> (ExportableNetwork, [String: Tensor], () throws -> Tensor)
        var eval = false
        var description: String { name }
    }

    static let tolerance: Float = 1e-4

    static func generatorCase(_ name: String, _ a: GeneratorArchitecture, input: [Int], labels: [Float]? = nil,
                              eval: Bool = false) -> Case {
        Case(name: name, network: {
            let g = try Generator(a)
            // He-initialised, as a trained network's activations stay O(1): with N(0, 0.3) weights
            // a norm-free or running-statistics network grows each layer ~3.6× and the outputs
            // differ by float32 rounding of values in the thousands (1e-4 to 6e-4 measured).
            try g.root.initializeWeights(.kaiming, seed: 21)
            try randomizeNorms(g.root, seed: 22)
            let x = randomTensor(input, seed: 23)
            var inputs = ["image": x]
            var condition: Tensor?
            if let labels {
                condition = try Tensor(shape: [input[0], labels.count / input[0]], values: labels)
                inputs["labels"] = condition
            }
            let context = ForwardContext(backend: Backends.direct, batchNorm: eval ? .runningStatistics : .batchStatistics,
                                         batchStatisticsPerImage: true)
            return (.generator(g), inputs, { try g.forward(x, condition: condition, context: context) })
        }, eval: eval)
    }

    static var cases: [Case] {
        [
            generatorCase("resnet_instance", .resnet(blocks: 2, ngf: 4, norm: .instance), input: [2, 3, 22, 30]),
            generatorCase("resnet_batch_dropout", .resnet(blocks: 2, ngf: 4, norm: .batch, dropout: true), input: [2, 3, 20, 24]),
            generatorCase("resnet_batch_eval", .resnet(blocks: 2, ngf: 4, norm: .batch), input: [2, 3, 20, 24], eval: true),
            generatorCase("resnet_no_norm", .resnet(blocks: 1, ngf: 4, norm: .none), input: [1, 3, 16, 20]),
            generatorCase("unet_batch_dropout", .unet(downs: 5, ngf: 4, norm: .batch, dropout: true), input: [2, 3, 32, 64]),
            generatorCase("unet_batch_eval", .unet(downs: 5, ngf: 4, norm: .batch, dropout: true), input: [2, 3, 32, 32], eval: true),
            generatorCase("unet_instance", .unet(downs: 6, ngf: 4, norm: .instance, dropout: false), input: [1, 3, 64, 64]),
            generatorCase("colorization_unet", .unet(downs: 5, ngf: 4, norm: .batch, inputChannels: 1, outputChannels: 2),
                          input: [1, 1, 32, 32]),
            generatorCase("cut_antialias", .cut(blocks: 2, ngf: 4), input: [1, 3, 21, 27]),
            generatorCase("cut_no_antialias_up", .cut(blocks: 1, ngf: 4, antialiasUp: false), input: [1, 3, 20, 24]),
            generatorCase("cut_no_antialias", .cut(blocks: 1, ngf: 4, antialias: false), input: [1, 3, 20, 24]),
            generatorCase("stargan", .stargan(conditions: 3, convDim: 4, repeats: 2), input: [2, 3, 24, 29],
                          labels: [1, 0, 1, 0, 1, 0]),
            Case(name: "dcgan", network: {
                let g = try DCGAN.generator(nz: 8, ngf: 4)
                try g.initializeWeights(.kaiming, seed: 31)
                try randomizeNorms(g, seed: 32)
                let z = randomTensor([2, 8, 1, 1], seed: 33)
                let context = ForwardContext(backend: Backends.direct, batchNorm: .runningStatistics)
                return (.noiseGenerator(g, nz: 8, channels: 3, imageSize: 64), ["z": z], { try g.forward(z, context) })
            }, eval: true),
        ]
    }

    /// Running statistics and affine norm weights away from their defaults, so `--eval` and the
    /// per-image form give different outputs and a swapped tensor shows.
    static func randomizeNorms(_ root: Module, seed: UInt64) throws {
        var s = seed
        for norm in root.modules(of: Norm2d.self) {
            for name in ["running_mean", "running_var", "weight", "bias"] {
                guard let t = norm.tensor(name) else { continue }
                s += 1
                let r = randomTensor(t.shape, seed: s, scale: 0.5)
                let values = r.values.map { name == "running_var" || name == "weight" ? 1 + $0 : $0 }
                norm.setTensor(name, try Tensor(shape: t.shape, values: values))
            }
        }
    }

    static let fixtures = fixturesDirectory.appendingPathComponent("onnx")

    @Test(arguments: cases)
    func exportMatchesOnnxRuntime(_ c: Case) throws {
        let (network, inputs, forward) = try c.network()
        let data = try ONNXExporter.data(network, options: ExportOptions(runningStatistics: c.eval))
        let ours = try forward()
        let dir = try TemporaryDirectory()
        try write(c.name, data, inputs, expected: ours, into: dir.url)
        let sum = try runCommand(URL(fileURLWithPath: "/usr/bin/sha256sum"), [dir.path("\(c.name).onnx")])
        let hash = String(sum.stdout.prefix(64))
        if let dump = ProcessInfo.processInfo.environment["GANTRY_ONNX_DUMP"], !dump.isEmpty {
            try write(c.name, data, inputs, expected: ours, into: URL(fileURLWithPath: dump))
        }

        // Recorded: onnxruntime's output for exactly these bytes.
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("manifest.json"))) as? [String: [String: Any]]
        let recorded = try #require(manifest?[c.name], "no recorded onnxruntime output for \(c.name): run tools/fixtures/make_onnx_fixtures.py")
        #expect(recorded["sha256"] as? String == hash,
                "\(c.name): the export changed since its onnxruntime outputs were recorded; check it and record again (tools/fixtures/make_onnx_fixtures.py)")
        if recorded["sha256"] as? String == hash {
            let shape = try #require(recorded["shape"] as? [Int])
            let theirs = try readFloats(Self.fixtures.appendingPathComponent("\(c.name).ort.f32"), shape: shape)
            expectClose(ours, theirs, "\(c.name) recorded")
        }

        // Live: the checker and onnxruntime on this machine.
        guard let python = onnxPython(for: "ONNX export \(c.name)") else { return }
        let script = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/fixtures/make_onnx_fixtures.py")
        let r = try runCommand(python, [script.path, "check", dir.url.path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        guard r.status == 0 else { return }
        print(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let theirs = try readFloats(dir.url.appendingPathComponent("\(c.name).ort.f32"), shape: ours.shape)
        expectClose(ours, theirs, "\(c.name) live")
    }

    /// `NAME.onnx`, each input as `NAME.INPUT.f32` and `NAME.json` (shapes) for the script.
    func write(_ name: String, _ data: Data, _ inputs: [String: Tensor], expected: Tensor, into dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try data.write(to: dir.appendingPathComponent("\(name).onnx"))
        var shapes: [String: [Int]] = [:]
        for (key, t) in inputs {
            try floatData(t).write(to: dir.appendingPathComponent("\(name).\(key).f32"))
            shapes[key] = t.shape
        }
        let meta: [String: Any] = ["inputs": shapes, "output_shape": expected.shape]
        try JSONSerialization.data(withJSONObject: meta, options: [.sortedKeys]).write(to: dir.appendingPathComponent("\(name).json"))
    }

    func floatData(_ t: Tensor) -> Data {
        var d = Data(capacity: t.count * 4)
        for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        return d
    }

    func readFloats(_ url: URL, shape: [Int]) throws -> Tensor {
        let d = try Data(contentsOf: url)
        let count = shape.reduce(1, *)
        try #require(d.count == count * 4, "\(url.lastPathComponent): \(d.count) bytes for shape \(shape)")
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            _ = d.copyBytes(to: buffer)  // little-endian, as this machine
            initialized = count
        }
        return try Tensor(shape: shape, values: values)
    }

    func expectClose(_ ours: Tensor, _ theirs: Tensor, _ what: String) {
        #expect(ours.shape == theirs.shape, "\(what): shape \(ours.shape) vs onnxruntime's \(theirs.shape)")
        guard ours.shape == theirs.shape else { return }
        let worst = zip(ours.values, theirs.values).map { abs($0 - $1) }.max() ?? 0
        print("\(what): max |gantry − onnxruntime| = \(worst) over \(ours.count) values")
        #expect(worst <= Self.tolerance, "\(what): max difference \(worst) > \(Self.tolerance)")
    }

    /// What ONNX cannot be asked to compute is refused by name, before anything is written.
    @Test func layersOutsideAGeneratorAndBrokenWeightsAreRefused() throws {
        let heads = Root("mlp_0", Sequential([try Linear(4, 4), ActivationLayer(.relu)]))
        #expect {
            try ONNXExporter.data(.noiseGenerator(heads, nz: 4, channels: 3, imageSize: 64))
        } throws: { error in
            let e = error as? ExportError
            return e?.code == .unsupportedLayer && e?.message.contains("mlp_0.0 is a Linear layer") == true
        }
        let g = try Generator(.resnet(blocks: 1, ngf: 4))
        let conv = try #require(g.root.modules(of: Conv2d.self).first)
        conv.setTensor("weight", try Tensor(shape: conv.weight.shape, values: [Float](repeating: .nan, count: conv.weight.count)))
        #expect {
            try ONNXExporter.data(.generator(g))
        } throws: { error in
            let e = error as? ExportError
            return e?.code == .nonFiniteWeights && e?.message.contains("model.1.weight") == true
        }
        let dir = try TemporaryDirectory()
        #expect(throws: ExportError.self) { try ONNXExporter.write(.generator(g), to: dir.url.appendingPathComponent("g.onnx")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("")).isEmpty, "nothing written")
    }
}
