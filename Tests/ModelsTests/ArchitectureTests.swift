import Engine
import Models
import Testing
import TestSupport

/// Full-size networks against the state_dict facts of the reference PyTorch code
/// (key counts include buffers; parameter counts are what the reference prints).
struct ArchitectureTests {
    struct Expectation: Sendable, CustomTestStringConvertible {
        var arch: GeneratorArchitecture
        var keys: Int
        var parameters: Int
        var testDescription: String { "\(arch.name) \(arch.norm)" }
    }

    static let expectations: [Expectation] = [
        .init(arch: .resnet(blocks: 9, norm: .instance), keys: 48, parameters: 11_378_179),
        .init(arch: .resnet(blocks: 9, norm: .batch), keys: 140, parameters: 11_383_427),
        .init(arch: .resnet(blocks: 6, norm: .instance), keys: 36, parameters: 7_837_699),
        .init(arch: .resnet(blocks: 6, norm: .batch), keys: 104, parameters: 7_841_411),
        .init(arch: .unet(downs: 8, norm: .batch), keys: 82, parameters: 54_413_955),
        .init(arch: .unet(downs: 8, norm: .instance), keys: 32, parameters: 54_409_603),
        .init(arch: .unet(downs: 7, norm: .batch), keys: 70, parameters: 41_828_995),
        .init(arch: .unet(downs: 7, norm: .instance), keys: 28, parameters: 41_825_667),
        .init(arch: .stargan(conditions: 5), keys: 103, parameters: 8_430_528),
        // CUT's default generator: the same weights plus four blur buffers (printed from the CUT
        // repository's classes, ../shared/reference/colorization-cut-onnx.md §2.2).
        .init(arch: .cut(), keys: 52, parameters: 11_378_179),
    ]

    @Test(arguments: expectations)
    func keyAndParameterCounts(_ e: Expectation) throws {
        let g = try Generator(e.arch)
        #expect(g.root.namedTensors().count == e.keys)
        #expect(g.parameterCount == e.parameters)
    }

    @Test func resnetKeyNamesFollowTheReference() throws {
        let keys = try Generator(.resnet(blocks: 9)).root.namedTensors().map(\.key)
        #expect(keys.first == "model.1.weight")
        #expect(keys.contains("model.18.conv_block.5.weight"))
        #expect(keys.contains("model.19.weight") && keys.contains("model.22.bias"))
        #expect(keys.last == "model.26.bias")
        let dropoutKeys = try Generator(.resnet(blocks: 9, dropout: true)).root.namedTensors().map(\.key)
        #expect(dropoutKeys.contains("model.10.conv_block.6.weight"))
        #expect(!dropoutKeys.contains("model.10.conv_block.5.weight"))
    }

    @Test func cutKeyNamesFollowTheCUTRepository() throws {
        let g = try Generator(.cut())
        let keys = g.root.namedTensors().map(\.key)
        for key in ["model.4.weight", "model.7.filt", "model.8.weight", "model.11.filt", "model.12.conv_block.1.weight",
                    "model.20.conv_block.5.bias", "model.21.filt", "model.22.weight", "model.25.filt", "model.26.weight"] {
            #expect(keys.contains(key), "\(key)")
        }
        #expect(keys.last == "model.30.bias")
        #expect(g.root.children[0].module.children.count == 32, "the layer count --nce-layers is checked against")
        let buffers = g.root.namedTensors().filter(\.isBuffer)
        #expect(buffers.map(\.key) == ["model.7.filt", "model.11.filt", "model.21.filt", "model.25.filt"])
        // get_filter(3) and get_filter(4) · stride²: [1,2,1]ᵀ[1,2,1]/16 and [1,3,3,1]ᵀ[1,3,3,1]/16.
        #expect(Array(buffers[0].value.values.prefix(9)) == [1, 2, 1, 2, 4, 2, 1, 2, 1].map { Float($0) / 16 })
        #expect(Array(buffers[2].value.values.prefix(4)) == [1, 3, 3, 1].map { Float($0) / 16 })
        #expect(buffers[2].value.shape == [256, 1, 4, 4])
        // Either flag alone gives the junyanz layout on its side.
        let up = try Generator(.cut(antialias: false)).root.namedTensors().map(\.key)
        #expect(up.contains("model.7.weight") && up.contains("model.19.filt") && up.last == "model.28.bias")
        let down = try Generator(.cut(antialiasUp: false)).root.namedTensors().map(\.key)
        #expect(down.contains("model.21.weight") && !down.contains("model.21.filt") && down.last == "model.28.bias")
    }

    @Test func unetKeyNamesNestLikeTheReference() throws {
        let keys = try Generator(.unet(downs: 8)).root.namedTensors().map(\.key)
        #expect(keys.first == "model.model.0.weight")
        #expect(keys.contains("model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model.3.weight"))
        #expect(keys.last == "model.model.3.bias")
    }

    @Test func unetRefusesSizesItCannotRun() throws {
        let g = try Generator(.unet(downs: 5, ngf: 2))
        let context = ForwardContext(backend: Backends.direct)
        #expect(throws: ModelError.self) { try g.forward(Tensor(zeros: [1, 3, 48, 40]), context: context) }
        #expect(try g.forward(Tensor(zeros: [1, 3, 64, 32]), context: context).shape == [1, 3, 64, 32])
    }

    @Test func resnetOutputSizeRoundsUpToMultiplesOfFour() throws {
        let g = try Generator(.resnet(blocks: 1, ngf: 2))
        try g.initializeRandomly(seed: 3)
        let y = try g.forward(randomTensor([1, 3, 255, 257], seed: 1), context: ForwardContext(backend: Backends.winograd))
        #expect(y.shape == [1, 3, 256, 260])
        #expect(g.architecture.outputSize(height: 255, width: 257) == (256, 260))
    }

    @Test func stochasticDropoutIsSeeded() throws {
        let g = try Generator(.unet(downs: 6, ngf: 2, norm: .batch, dropout: true))
        try g.initializeRandomly(seed: 5, gain: 0.5)
        let x = randomTensor([1, 3, 64, 64], seed: 2)
        let plain = try g.forward(x, context: ForwardContext(backend: Backends.direct))
        let again = try g.forward(x, context: ForwardContext(backend: Backends.direct))
        #expect(plain.values == again.values)
        let a = try g.forward(x, context: ForwardContext(backend: Backends.direct, dropout: RandomSource(seed: 7)))
        let b = try g.forward(x, context: ForwardContext(backend: Backends.direct, dropout: RandomSource(seed: 7)))
        let c = try g.forward(x, context: ForwardContext(backend: Backends.direct, dropout: RandomSource(seed: 8)))
        #expect(a.values == b.values)
        #expect(a.maxAbsDifference(plain) > 0)
        #expect(a.maxAbsDifference(c) > 0)
    }

    @Test func starganNeedsAConditionOfTheRightSize() throws {
        let g = try Generator(.stargan(conditions: 3, convDim: 4, repeats: 1))
        let context = ForwardContext(backend: Backends.direct)
        let x = try Tensor(zeros: [1, 3, 16, 16])
        #expect(throws: ModelError.self) { try g.forward(x, context: context) }
        #expect(throws: ModelError.self) { try g.forward(x, condition: Tensor(zeros: [1, 5]), context: context) }
        #expect(try g.forward(x, condition: Tensor(zeros: [1, 3]), context: context).shape == [1, 3, 16, 16])
    }
}

/// Winograd's rounding grows with channel count; the fixtures are narrow, so check the full-width
/// networks too: Winograd against direct (which matches PyTorch to 1e-4) on a small image.
struct FullWidthWinogradTests {
    @Test(arguments: [GeneratorArchitecture.resnet(blocks: 9), .stargan(conditions: 5)])
    func winogradStaysWithinTolerance(_ arch: GeneratorArchitecture) throws {
        let g = try Generator(arch)
        try g.initializeRandomly(seed: 21)
        let x = randomTensor([1, 3, 48, 40], seed: 22)
        let c = arch.family == .stargan ? try Tensor(shape: [1, 5], values: [0, 1, 0, 1, 1]) : nil
        let direct = try g.forward(x, condition: c, context: ForwardContext(backend: Backends.direct))
        let wino = try g.forward(x, condition: c, context: ForwardContext(backend: Backends.winograd))
        #expect(wino.maxAbsDifference(direct) <= 2e-3)
    }
}
