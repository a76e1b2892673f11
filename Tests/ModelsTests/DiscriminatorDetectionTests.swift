import Checkpoints
import Engine
import Foundation
import Models
import Testing
import TestSupport

/// Detection of every discriminator variant from its keys and shapes, the refusal of generator-
/// only loading, and hostile state_dicts (each a clean error, never a crash or a huge allocation).
struct DiscriminatorDetectionTests {
    /// The state_dict a network of this architecture would save.
    static func stateDict(_ a: DiscriminatorArchitecture) throws -> StateDict {
        let d = try Discriminator(a)
        return StateDict(d.root.namedTensors().map { ($0.key, CheckpointTensor(shape: $0.value.shape, values: $0.value.values)) })
    }

    static func checkpoint(_ pairs: [(String, [Int])]) -> Checkpoint {
        let sd = StateDict(pairs.map { ($0.0, CheckpointTensor(shape: $0.1, values: Array(repeating: 0.5, count: $0.1.reduce(1, *)))) })
        return Checkpoint(path: "hostile.pth", format: .pytorchZip, stateDict: sd)
    }

    static let variants: [DiscriminatorArchitecture] = {
        var out: [DiscriminatorArchitecture] = []
        for norm in DiscriminatorArchitecture.Norm.allCases {
            for layers in 0...5 { out.append(.nLayers(layers, ndf: 2, norm: norm, inputChannels: layers % 2 == 0 ? 3 : 6)) }
            // CUT's anti-aliased layout (blur buffers after the early activations).
            for layers in 0...4 { out.append(.nLayers(layers, ndf: 2, norm: norm, inputChannels: 3, antialias: true)) }
            out.append(.pixel(ndf: 3, norm: norm, inputChannels: 6))
        }
        out += [.stargan(imageSize: 32, convDim: 2, cDim: 3, repeatNum: 3), .stargan(imageSize: 24, convDim: 1, cDim: 5, repeatNum: 2),
                .stargan(imageSize: 8, convDim: 2, cDim: 1, repeatNum: 3), .stargan(imageSize: 64, convDim: 1, cDim: 2, repeatNum: 1)]
        return out
    }()

    @Test(arguments: variants)
    func detectsEveryVariant(_ a: DiscriminatorArchitecture) throws {
        let sd = try Self.stateDict(a)
        #expect(DiscriminatorDetection.family(of: sd) == a.family)
        #expect(try DiscriminatorDetection.detect(sd) == a)
        let (d, _) = try Discriminator.load(Checkpoint(path: "d.pth", format: .pytorchZip, stateDict: sd))
        #expect(d.architecture == a)
    }

    @Test func generatorCheckpointsAreNotDiscriminators() throws {
        let generators: [GeneratorArchitecture] = [.resnet(blocks: 1, ngf: 2), .resnet(blocks: 0, ngf: 2, norm: .none),
                                                   .unet(downs: 5, ngf: 1), .stargan(conditions: 2, convDim: 2, repeats: 1)]
        for g in generators {
            let net = try Generator(g)
            let sd = StateDict(net.root.namedTensors().map { ($0.key, CheckpointTensor(shape: $0.value.shape, values: $0.value.values)) })
            #expect(DiscriminatorDetection.family(of: sd) == nil, "\(g)")
            #expect(throws: ModelError.self) { try Discriminator.load(Checkpoint(path: "g.pth", format: .pytorchZip, stateDict: sd)) }
        }
        let url = fixturesDirectory.appendingPathComponent("resnet6_instance.pth")
        #expect { try Discriminator.load(contentsOf: url) } throws: { ($0 as? ModelError)?.code == .unknownArchitecture }
    }

    /// CUT's F file, beside its G in every CUT run folder, is named for what it is.
    @Test func generatorLoadingNamesCUTsPatchSampleF() throws {
        let f = try PatchSampleF(channels: [3, 8], width: 4)
        let sd = StateDict(f.root.namedTensors().map { ($0.key, CheckpointTensor(shape: $0.value.shape, values: $0.value.values)) })
        #expect {
            try Generator.load(Checkpoint(path: "latest_net_F.pth", format: .pytorchZip, stateDict: sd))
        } throws: { ($0 as? ModelError).map { $0.message.contains("PatchSampleF") && $0.message.contains("latest_net_G.pth") } ?? false }
    }

    @Test(arguments: ["basic_batch_in6", "pixel_instance_in3", "stargan_d32", "basic_instance_in3_2018"])
    func generatorLoadingNamesTheDiscriminator(_ name: String) throws {
        let url = discriminatorFixturesDirectory.appendingPathComponent("\(name).pth")
        #expect {
            try Generator.load(contentsOf: url)
        } throws: { error in
            guard let e = error as? ModelError else { return false }
            let m = e.message
            return m.contains("Discriminator") && m.contains("not a generator") && !m.contains("\n")
                && !m.contains("not a pix2pix/CycleGAN or StarGAN generator")
        }
        // Overrides do not turn it into a generator either.
        #expect(throws: ModelError.self) { try Generator.load(contentsOf: url, overrides: .init(family: .resnet)) }
    }

    static let hostile: [(String, [(String, [Int])])] = [
        ("wrong shape", [("model.0.weight", [4, 3, 4, 4]), ("model.0.bias", [4]), ("model.2.weight", [8, 5, 4, 4]),
                         ("model.2.bias", [8]), ("model.5.weight", [1, 8, 4, 4]), ("model.5.bias", [1])]),
        ("scalar where a conv belongs", [("model.0.weight", [4, 3, 4, 4]), ("model.2.weight", []), ("model.5.weight", [1, 8, 4, 4])]),
        ("conv list ends oddly", [("model.0.weight", [4, 3, 4, 4]), ("model.2.weight", [8, 4, 4, 4]), ("model.7.weight", [1, 8, 4, 4])]),
        ("thousands of layers", [("model.0.weight", [4, 3, 4, 4]), ("model.2.weight", [8, 4, 4, 4]), ("model.3002.weight", [1, 8, 4, 4])]),
        ("absurd ndf", [("model.0.weight", [100_000, 3, 1, 1]), ("model.2.weight", [1, 1, 1, 1]), ("model.5.weight", [1, 1, 1, 1])]),
        ("ndf the file cannot fill", [("model.0.weight", [60_000, 1, 1, 1]), ("model.2.weight", [1, 1, 1, 1]),
                                      ("model.11.weight", [1, 1, 1, 1])]),
        ("zero-sized conv", [("net.0.weight", [4, 0, 1, 1])]),
        ("pixel missing keys", [("net.0.weight", [4, 3, 1, 1])]),
        ("pixel extra key", [("net.0.weight", [4, 3, 1, 1]), ("net.0.bias", [4]), ("net.2.weight", [8, 4, 1, 1]),
                             ("net.2.bias", [8]), ("net.5.weight", [1, 8, 1, 1]), ("net.5.bias", [1]), ("net.9.weight", [1])]),
        ("stargan repeat_num 20", (0..<20).map { ("main.\(2 * $0).weight", [1, 1, 4, 4]) } + [("conv1.weight", [1, 1, 3, 3]), ("conv2.weight", [1, 1, 1, 1])]),
        ("stargan channels overflow", [("main.0.weight", [60_000, 1, 1, 1]), ("main.2.weight", [1, 1, 4, 4]),
                                       ("conv1.weight", [1, 1, 3, 3]), ("conv2.weight", [1, 1, 1, 1])]),
        ("stargan non-square class head", [("main.0.weight", [2, 3, 4, 4]), ("conv1.weight", [1, 2, 3, 3]), ("conv2.weight", [3, 2, 1, 70_000])]),
        ("stargan huge class kernel", [("main.0.weight", [2, 3, 4, 4]), ("main.0.bias", [2]), ("conv1.weight", [1, 2, 3, 3]),
                                       ("conv2.weight", [1, 1, 200, 200])]),
        ("stargan wide conv_dim", [("main.0.weight", [40_000, 1, 1, 1]), ("main.2.weight", [1, 1, 1, 1]), ("main.4.weight", [1, 1, 1, 1]),
                                   ("conv1.weight", [1, 1, 1, 1]), ("conv2.weight", [1, 1, 1, 1])]),
    ]

    @Test func hostileStateDictsAreRefused() throws {
        for (name, pairs) in Self.hostile {
            let c = Self.checkpoint(pairs)
            #expect(throws: ModelError.self, "\(name)") { try Discriminator.load(c) }
            // Whatever it is, generator loading refuses it too.
            #expect(throws: ModelError.self, "\(name)") { try Generator.load(c) }
        }
    }

    @Test func validationBoundsSizesBeforeAllocating() throws {
        let absurd: [DiscriminatorArchitecture] = [
            .nLayers(33, ndf: 1), .nLayers(-1, ndf: 1), .nLayers(3, ndf: 0), .nLayers(3, ndf: 1 << 20),
            .pixel(ndf: 1, inputChannels: 0), .stargan(imageSize: 64, convDim: 64, cDim: 5, repeatNum: 17),
            .stargan(imageSize: 64, convDim: 1 << 15, cDim: 5, repeatNum: 3), .stargan(imageSize: 4, convDim: 1, cDim: 1, repeatNum: 3),
            .stargan(imageSize: 64, convDim: 1, cDim: 0, repeatNum: 3),
        ]
        for a in absurd { #expect(throws: ModelError.self, "\(a)") { try a.validate() } }
        #expect(try DiscriminatorArchitecture.stargan().convolutionWeightCount() == 44_762_048 - (64 + 128 + 256 + 512 + 1024 + 2048))
    }
}
