import Foundation
import Engine
import Testing
import TestSupport

/// oneDNN against the plain-loop reference on random shapes. Tolerances: direct convolution
/// differs from double-precision loops only by float summation order (1e-4 on O(1) outputs);
/// Winograd's transforms add rounding (2e-3, the bound).
struct ConvolutionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var input: [Int], weight: [Int], geometry: ConvGeometry
        var testDescription: String { "x\(input) w\(weight) s\(geometry.strideH) p\(geometry.padTop)" }
    }

    static let convCases: [Case] = [
        Case(input: [1, 3, 17, 13], weight: [8, 3, 7, 7], geometry: ConvGeometry(padding: 3)),
        Case(input: [2, 16, 12, 12], weight: [16, 16, 3, 3], geometry: ConvGeometry(padding: 1)),
        Case(input: [1, 32, 10, 9], weight: [32, 32, 3, 3], geometry: ConvGeometry()),
        Case(input: [1, 8, 15, 11], weight: [16, 8, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1)),
        Case(input: [2, 4, 16, 16], weight: [8, 4, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        Case(input: [1, 5, 9, 7], weight: [3, 5, 3, 3],
             geometry: ConvGeometry(strideH: 1, strideW: 2, padTop: 0, padLeft: 2, padBottom: 1, padRight: 0)),
    ]

    @Test(arguments: convCases, [DNNLBackend.Algorithm.direct, .winograd])
    func conv2dMatchesReference(_ c: Case, algorithm: DNNLBackend.Algorithm) throws {
        let x = randomTensor(c.input, seed: 1)
        let w = randomTensor(c.weight, seed: 2, scale: 0.3)
        let b = randomTensor([c.weight[0]], seed: 3)
        let backend = algorithm == .direct ? Backends.direct : Backends.winograd
        let expected = try Backends.reference.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let got = try backend.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        #expect(got.shape == expected.shape)
        #expect(got.maxAbsDifference(expected) <= (algorithm == .direct ? 1e-4 : 2e-3))
        let noBias = try backend.conv2d(x, weight: w, bias: nil, geometry: c.geometry)
        let expectedNoBias = try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: c.geometry)
        #expect(noBias.maxAbsDifference(expectedNoBias) <= (algorithm == .direct ? 1e-4 : 2e-3))
    }

    static let transposedCases: [Case] = [
        // ResNet upsampling: k3 s2 p1 output_padding 1.
        Case(input: [1, 16, 5, 7], weight: [16, 8, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1, outputPadding: 1)),
        // UNet / StarGAN upsampling: k4 s2 p1.
        Case(input: [2, 8, 4, 6], weight: [8, 4, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        Case(input: [1, 3, 1, 1], weight: [3, 5, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        Case(input: [1, 4, 6, 5], weight: [4, 6, 3, 3], geometry: ConvGeometry(padding: 1)),
    ]

    @Test(arguments: transposedCases)
    func convTranspose2dMatchesReference(_ c: Case) throws {
        let x = randomTensor(c.input, seed: 4)
        let w = randomTensor(c.weight, seed: 5, scale: 0.3)
        let b = randomTensor([c.weight[1]], seed: 6)
        let expected = try Backends.reference.convTranspose2d(x, weight: w, bias: b, geometry: c.geometry)
        for backend in [Backends.direct, Backends.winograd] {
            let got = try backend.convTranspose2d(x, weight: w, bias: b, geometry: c.geometry)
            #expect(got.shape == expected.shape)
            #expect(got.maxAbsDifference(expected) <= 1e-4)
        }
    }

    @Test func transposedOutputSizesMatchPyTorch() throws {
        // H_out = (H-1)*s - 2p + k + output_padding
        let g = ConvGeometry(stride: 2, padding: 1, outputPadding: 1)
        #expect(g.transposedOutput(h: 64, w: 7, kh: 3, kw: 3) == (128, 14))
        #expect(ConvGeometry(stride: 2, padding: 1).transposedOutput(h: 1, w: 3, kh: 4, kw: 4) == (2, 6))
    }

    @Test func cachedWeightsFollowMutation() throws {
        // The backend caches reordered weights; changing a weight tensor in place must be seen.
        let x = randomTensor([1, 4, 8, 8], seed: 7)
        let w = randomTensor([4, 4, 3, 3], seed: 8)
        let g = ConvGeometry(padding: 1)
        _ = try Backends.direct.conv2d(x, weight: w, bias: nil, geometry: g)
        w.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= 2 } }
        let got = try Backends.direct.conv2d(x, weight: w, bias: nil, geometry: g)
        let expected = try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: g)
        #expect(got.maxAbsDifference(expected) <= 1e-4)
    }

    /// Training updates weights in place with `assign(from:)`: the cached oneDNN copy must follow.
    @Test func inPlaceWeightUpdatesReachTheKernels() throws {
        let x = randomTensor([1, 8, 12, 12], seed: 11)
        let w = randomTensor([8, 8, 3, 3], seed: 12)
        let g = ConvGeometry(padding: 1)
        for backend in [Backends.direct, Backends.winograd] {
            _ = try backend.conv2d(x, weight: w, bias: nil, geometry: g)
            let before = w.storage.version
            w.assign(from: randomTensor([8, 8, 3, 3], seed: UInt64(13 + before)))
            #expect(w.storage.version > before)
            let got = try backend.conv2d(x, weight: w, bias: nil, geometry: g)
            let expected = try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: g)
            #expect(got.maxAbsDifference(expected) <= 2e-3, "\(backend.name)")
        }
    }

    @Test func mismatchedChannelsAreRefused() {
        let x = randomTensor([1, 3, 8, 8], seed: 9)
        let w = randomTensor([4, 5, 3, 3], seed: 10)
        #expect(throws: EngineError.self) { try Backends.direct.conv2d(x, weight: w, bias: nil, geometry: ConvGeometry()) }
    }

    @Test func winogradIsUsedForWide3x3LayersWhereTheCPUHasIt() throws {
        // The 256-channel residual layers are where Winograd pays. oneDNN 2.6 implements it only
        // for AVX-512, so what to expect depends on the CPU (and on GANTRY_MAX_CPU_ISA, which .ci/run
        // sets to avx2 for a second pass): oneDNN's Winograd there, Gantry's own F(4×4, 3×3) otherwise.
        // No AMX implementation may ever be chosen.
        let isa = DNNLBackend.effectiveISA
        let cpuHasAVX512 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx512f") ?? false
        let capped = ProcessInfo.processInfo.environment["GANTRY_MAX_CPU_ISA"].map { !$0.lowercased().hasPrefix("avx512") } ?? false
        #expect(isa.hasPrefix("avx512") == (cpuHasAVX512 && !capped), "effective ISA \(isa)")
        let impl = try Backends.winograd.implementation(forConv2dInput: [1, 256, 64, 64], weight: [256, 256, 3, 3],
                                                        geometry: ConvGeometry())
        if DNNLBackend.hasNativeWinograd {
            #expect(impl.contains("wino"), "ISA \(isa): got \(impl)")
        } else {
            #expect(impl == DNNLBackend.gantryWinogradName, "ISA \(isa): got \(impl)")
        }
        #expect(!impl.contains("amx"), "got \(impl)")
        let direct = try Backends.direct.implementation(forConv2dInput: [1, 256, 64, 64], weight: [256, 256, 3, 3],
                                                        geometry: ConvGeometry())
        #expect(!direct.contains("wino") && !direct.contains("amx"), "got \(direct)")
        // Training's backward passes: Winograd for both, oneDNN's where it has one, Gantry's otherwise.
        let backward = try Backends.winograd.backwardImplementations(forConv2dInput: [1, 64, 32, 32], weight: [64, 64, 3, 3],
                                                                     geometry: ConvGeometry(padding: 1))
        for name in [backward.data, backward.weights] {
            #expect(name.contains("wino"), "ISA \(isa): got \(name)")
            #expect(name.hasPrefix("gantry") == !DNNLBackend.hasNativeWinograd, "ISA \(isa): got \(name)")
            #expect(!name.contains("amx"), "got \(name)")
        }
        let directBackward = try Backends.direct.backwardImplementations(forConv2dInput: [1, 64, 32, 32], weight: [64, 64, 3, 3],
                                                                         geometry: ConvGeometry(padding: 1))
        #expect(!directBackward.data.contains("wino") && !directBackward.weights.contains("wino"))
    }
}

/// Banded execution (for large layers) must give the unbanded result: forced here with tiny bands.
struct BandingTests {
    static let banded = try! DNNLBackend(algorithm: .direct, bandBytes: 256)

    @Test(arguments: ConvolutionTests.convCases)
    func bandedConvolutionMatchesReference(_ c: ConvolutionTests.Case) throws {
        let x = randomTensor(c.input, seed: 31), w = randomTensor(c.weight, seed: 32, scale: 0.3)
        let b = randomTensor([c.weight[0]], seed: 33)
        let expected = try Backends.reference.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        #expect(try Self.banded.conv2d(x, weight: w, bias: b, geometry: c.geometry).maxAbsDifference(expected) <= 1e-4)
    }

    @Test(arguments: ConvolutionTests.transposedCases)
    func bandedTransposedConvolutionMatchesReference(_ c: ConvolutionTests.Case) throws {
        let x = randomTensor(c.input, seed: 34), w = randomTensor(c.weight, seed: 35, scale: 0.3)
        let b = randomTensor([c.weight[1]], seed: 36)
        let expected = try Backends.reference.convTranspose2d(x, weight: w, bias: b, geometry: c.geometry)
        #expect(try Self.banded.convTranspose2d(x, weight: w, bias: b, geometry: c.geometry).maxAbsDifference(expected) <= 1e-4)
    }
}
