import Checkpoints
import Engine
import Foundation
import Models
import TestSupport
import Testing

/// Checkpoints Gantry writes (`TorchWriter`) load strictly into the reference networks and give
/// PyTorch Gantry's outputs. Needs torch: runs `tools/fixtures/check_torch_writer.py` with the
/// Python named by GANTRY_TORCH_PYTHON (e.g. /work/torchenv/bin/python); without it, the files
/// are still written and read back by our own reader.
struct TorchExportTests {
    struct Case {
        var name: String, kind: String, family: String, arch: [String: Any], input: [Int]
        var make: () throws -> (Module, (Tensor) throws -> Tensor)
    }

    static var cases: [Case] {
        let context = ForwardContext(backend: Backends.direct)
        func generator(_ a: GeneratorArchitecture) -> () throws -> (Module, (Tensor) throws -> Tensor) {
            { let g = try Generator(a); return (g.root, { try g.forward($0, context: context) }) }
        }
        func discriminator(_ a: DiscriminatorArchitecture) -> () throws -> (Module, (Tensor) throws -> Tensor) {
            { let d = try Discriminator(a); return (d.root, { try d.forward($0, context: context) }) }
        }
        return [
            Case(name: "resnet6_instance", kind: "generator", family: "resnet",
                 arch: ["input_nc": 3, "output_nc": 3, "ngf": 4, "norm": "instance", "dropout": false, "n_blocks": 6],
                 input: [1, 3, 32, 32], make: generator(.resnet(blocks: 6, ngf: 4, norm: .instance))),
            Case(name: "unet5_batch_dropout", kind: "generator", family: "unet",
                 arch: ["input_nc": 3, "output_nc": 3, "ngf": 4, "norm": "batch", "dropout": true, "num_downs": 5],
                 input: [2, 3, 32, 32], make: generator(.unet(downs: 5, ngf: 4, norm: .batch, dropout: true))),
            Case(name: "d_basic_batch6", kind: "discriminator", family: "nLayers",
                 arch: ["input_nc": 6, "ndf": 4, "n_layers": 3, "norm": "batch"],
                 input: [2, 6, 32, 32], make: discriminator(.nLayers(3, ndf: 4, norm: .batch, inputChannels: 6))),
            Case(name: "d_pixel_instance", kind: "discriminator", family: "pixel",
                 arch: ["input_nc": 3, "ndf": 4, "norm": "instance"],
                 input: [1, 3, 16, 16], make: discriminator(.pixel(ndf: 4, norm: .instance))),
            Case(name: "d_stargan", kind: "discriminator", family: "stargan",
                 arch: ["image_size": 32, "ndf": 4, "c_dim": 3, "repeat_num": 3],
                 input: [2, 3, 32, 32], make: discriminator(.stargan(imageSize: 32, convDim: 4, cDim: 3, repeatNum: 3))),
        ]
    }

    @Test func exportedCheckpointsLoadInPyTorch() throws {
        let dir = try TemporaryDirectory()
        for c in Self.cases {
            let (root, forward) = try c.make()
            try root.initializeWeights(.normal, gain: 0.3, seed: 11)
            var sd = StateDict()
            for (key, value, _, _) in root.namedTensors() {
                sd[key] = CheckpointTensor(shape: value.shape, values: value.values)
            }
            let url = dir.url.appendingPathComponent("\(c.name).pth")
            try TorchWriter.write(sd, to: url)
            // Our reader takes it back exactly.
            let back = try Checkpoint.load(contentsOf: url)
            #expect(back.stateDict.keys == sd.keys)
            let x = randomTensor(c.input, seed: 12)
            var io = StateDict()
            io["input"] = CheckpointTensor(shape: x.shape, values: x.values)
            let y = try forward(x)
            io["output"] = CheckpointTensor(shape: y.shape, values: y.values)
            try SafetensorsWriter.write(io, to: dir.url.appendingPathComponent("\(c.name).io.safetensors"))
            let spec: [String: Any] = ["kind": c.kind, "family": c.family, "arch": c.arch]
            try JSONSerialization.data(withJSONObject: spec).write(to: dir.url.appendingPathComponent("\(c.name).json"))
        }
        guard let python = torchPython(for: "TorchExportTests: PyTorch loading Gantry's checkpoints") else { return }
        let script = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/fixtures/check_torch_writer.py").path
        let r = try runCommand(python, [script, dir.url.path])
        let output = r.stdout + r.stderr
        print(output)
        #expect(r.status == 0, "\(output)")
        #expect(output.contains("\(Self.cases.count) passed, 0 failed"))
    }
}
