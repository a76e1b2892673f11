import Checkpoints
import Engine
import Models
import Testing
import TestSupport

/// The discriminators against the reference PyTorch classes: state_dict keys and shapes,
/// parameter counts, and outputs for the same checkpoint and input.
struct DiscriminatorTests {
    static let manifest = try? DiscriminatorManifest.load()
    static let cases = manifest?.cases ?? []
    static let fullSize = manifest?.full_size ?? []

    /// Max |Δ| against PyTorch: float32 rounding only. Measured at most 1.6e-6 on these
    /// fixtures with either backend (direct convolutions accumulate in another order than
    /// PyTorch's kernels, the reference backend in Double); train-mode BatchNorm over a 2×2 map
    /// amplifies such differences most, hence the margin.
    static let tolerance: Float = 2e-5

    @Test func fixturesArePresent() {
        #expect(Self.cases.count >= 12)
        #expect(Self.fullSize.count >= 8)
    }

    @Test(arguments: fullSize)
    func fullSizeKeysAndParameterCounts(_ f: DiscriminatorManifest.FullSize) throws {
        let d = try Discriminator(f.expectedArchitecture)
        let keys = d.root.namedTensors().map { DiscriminatorManifest.KeyShape(key: $0.key, shape: $0.value.shape) }
        #expect(keys == f.keys)
        #expect(keys.count == f.key_count)
        #expect(d.parameterCount == f.param_count)
    }

    @Test func reportCountsAreTheOnesInTheManifest() {
        let counts = Dictionary(Self.fullSize.map { ($0.label, $0.param_count) }, uniquingKeysWith: { a, _ in a })
        #expect(counts["basic in3 instance"] == 2_764_737)
        #expect(counts["basic in6 batch"] == 2_768_705)
        #expect(counts["n_layers 5 in6 batch"] == 11_159_361)
        #expect(counts["stargan D 128"] == 44_762_048)
        #expect(counts["pixel in6 batch"] == 9_024)
    }

    @Test(arguments: cases)
    func fixtureKeysAndParameterCounts(_ c: DiscriminatorManifest.Case) throws {
        let d = try Discriminator(c.expectedArchitecture)
        let keys = d.root.namedTensors().map { DiscriminatorManifest.KeyShape(key: $0.key, shape: $0.value.shape) }
        #expect(keys == c.keys)
        #expect(d.parameterCount == c.param_count)
    }

    @Test(arguments: cases)
    func loadingDetectsTheArchitecture(_ c: DiscriminatorManifest.Case) throws {
        let (d, report) = try Discriminator.load(contentsOf: c.checkpointURL)
        #expect(d.architecture == c.expectedArchitecture)
        #expect(d.parameterCount == c.param_count)
        if c.name.hasSuffix("_2018") {
            #expect(report.notes.contains { $0.contains("dropped 9 InstanceNorm running-statistics") })
        }
        if c.family == "stargan" { #expect(report.assumptions.contains { $0.contains("image_size") }) }
    }

    @Test(arguments: cases, ["direct", "reference"])
    func matchesPyTorch(_ c: DiscriminatorManifest.Case, backend: String) throws {
        let (d, _) = try Discriminator.load(contentsOf: c.checkpointURL)
        let io = try c.tensors()
        let input = try #require(io["input"]), expected = try #require(io["output"])
        let context = ForwardContext(backend: backend == "direct" ? Backends.direct : Backends.reference)
        let tolerance = Self.tolerance
        if d.architecture.family == .stargan {
            let classes = try #require(io["classes"])
            let heads = try d.starGANHeads(input, context: context)
            #expect(heads.source.shape == expected.shape)
            #expect(heads.classes.shape == classes.shape)
            let (ds, dc) = (heads.source.maxAbsDifference(expected), heads.classes.maxAbsDifference(classes))
            #expect(ds <= tolerance && dc <= tolerance, "\(c.name) \(backend): source |Δ| \(ds), classes |Δ| \(dc)")
            // The PatchGAN-style forward is the source head.
            #expect(try d.forward(input, context: context).values == heads.source.values)
        } else {
            let output = try d.forward(input, context: context)
            #expect(output.shape == expected.shape)
            let diff = output.maxAbsDifference(expected)
            #expect(diff <= tolerance, "\(c.name) \(backend): max |Δ| \(diff)")
        }
    }

    @Test func outputSizesFollowPyTorch() throws {
        #expect(DiscriminatorArchitecture.nLayers(3).outputSize(height: 256, width: 128)! == (30, 14))
        #expect(DiscriminatorArchitecture.nLayers(3).outputSize(height: 24, width: 24)! == (1, 1))
        #expect(DiscriminatorArchitecture.nLayers(3).outputSize(height: 23, width: 24) == nil)
        #expect(DiscriminatorArchitecture.pixel().outputSize(height: 7, width: 5)! == (7, 5))
        #expect(DiscriminatorArchitecture.stargan().outputSize(height: 128, width: 128)! == (2, 2))
        // CUT's anti-aliased D: 30×30 at 256² as the plain PatchGAN (the CUT repository's class,
        // ../shared/reference/colorization-cut-onnx.md §2.3); odd sizes against the forward itself.
        let antialiased = DiscriminatorArchitecture.nLayers(3, ndf: 2, norm: .instance, antialias: true)
        #expect(antialiased.outputSize(height: 256, width: 128)! == (30, 14))
        let d = try Discriminator(antialiased)
        #expect(antialiased.outputSize(height: 17, width: 20) == nil)
        #expect(throws: ModelError.self) { try d.forward(Tensor(zeros: [1, 3, 17, 20]), context: ForwardContext(backend: Backends.direct)) }
        for (h, w) in [(37, 45), (24, 31), (29, 24)] {
            let y = try d.forward(Tensor(zeros: [1, 3, h, w]), context: ForwardContext(backend: Backends.direct))
            let size = try #require(antialiased.outputSize(height: h, width: w))
            #expect(Array(y.shape.suffix(2)) == [size.height, size.width], "\(h)×\(w)")
        }
        for c in Self.cases {
            let size = c.expectedArchitecture.outputSize(height: c.input_shape[2], width: c.input_shape[3])
            #expect(size.map { [$0.height, $0.width] } == Array(c.output_shape.suffix(2)), "\(c.name)")
        }
    }

    @Test func refusesInputsItCannotRun() throws {
        let context = ForwardContext(backend: Backends.direct)
        let basic = try Discriminator(.nLayers(3, ndf: 2, norm: .batch, inputChannels: 6))
        try basic.initializeWeights(seed: 1)
        for shape in [[1, 3, 32, 32], [6, 32, 32], [1, 6, 16, 16], [1, 6, 23, 40], [0, 6, 32, 32]] {
            #expect(throws: ModelError.self, "\(shape)") { try basic.forward(Tensor(zeros: shape), context: context) }
        }
        #expect(try basic.forward(randomTensor([2, 6, 24, 25], seed: 3), context: context).shape == [2, 1, 1, 1])
        #expect(throws: ModelError.self) { try basic.starGANHeads(Tensor(zeros: [1, 6, 32, 32]), context: context) }

        let star = try Discriminator(.stargan(imageSize: 32, convDim: 2, cDim: 3, repeatNum: 3))
        try star.initializeWeights(seed: 2)
        // The class head needs an image_size input, as PyTorch's view(N, c_dim) does; the
        // source head runs on any size.
        #expect(throws: ModelError.self) { try star.starGANHeads(Tensor(zeros: [1, 3, 48, 48]), context: context) }
        #expect(try star.forward(Tensor(zeros: [1, 3, 48, 48]), context: context).shape == [1, 1, 6, 6])
        #expect(try star.starGANHeads(Tensor(zeros: [2, 3, 32, 32]), context: context).classes.shape == [2, 3])
        #expect(throws: ModelError.self) { try star.forward(Tensor(zeros: [1, 3, 4, 4]), context: context) }
    }
}
