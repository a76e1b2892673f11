@testable import Engine
import Testing
import TestSupport

/// The transposed convolution split into stride-1 phases (`PhasedTransposedConvolution`) against
/// the plain-loop reference. Each output is one forward convolution's sum in another order, so
/// the direct tolerance applies (1e-4 on O(1) outputs).
struct PhasedTransposedTests {
    static let phased = try! DNNLBackend(algorithm: .winograd, transposedImplementation: .phased)
    static let banded = try! DNNLBackend(algorithm: .winograd, bandBytes: 4 << 10, transposedImplementation: .phased)

    static let cases: [ConvolutionTests.Case] = ConvolutionTests.transposedCases + [
        // resnet's up-sampling at a size with odd rows, batch 2, and without output padding.
        .init(input: [2, 16, 9, 6], weight: [16, 24, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1, outputPadding: 1)),
        .init(input: [1, 8, 7, 5], weight: [8, 8, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1)),
        // Stride 3, kernel 5, asymmetric padding, different strides per axis.
        .init(input: [1, 6, 5, 4], weight: [6, 4, 5, 5], geometry: ConvGeometry(stride: 3, padding: 1, outputPadding: 2)),
        .init(input: [1, 4, 6, 7], weight: [4, 5, 3, 4],
              geometry: ConvGeometry(strideH: 2, strideW: 3, padTop: 1, padLeft: 0, padBottom: 0, padRight: 2,
                                     outputPaddingH: 1, outputPaddingW: 0)),
        // No padding: the first phase reads before the input (padding before it).
        .init(input: [1, 3, 4, 4], weight: [3, 8, 3, 3], geometry: ConvGeometry(stride: 2)),
        // Padding and output padding on one axis only (a band of rows cut from resnet's
        // up-sampling), with as few rows as the kernel and fewer.
        .init(input: [1, 3, 3, 11], weight: [3, 4, 3, 3],
              geometry: ConvGeometry(strideH: 2, strideW: 2, padTop: 0, padLeft: 1, padBottom: 0, padRight: 1,
                                     outputPaddingH: 0, outputPaddingW: 1)),
        .init(input: [1, 3, 2, 11], weight: [3, 4, 3, 3],
              geometry: ConvGeometry(strideH: 2, strideW: 2, padTop: 0, padLeft: 1, padBottom: 0, padRight: 1,
                                     outputPaddingH: 0, outputPaddingW: 1)),
        .init(input: [1, 3, 1, 11], weight: [3, 4, 3, 3],
              geometry: ConvGeometry(strideH: 2, strideW: 2, padTop: 0, padLeft: 1, padBottom: 0, padRight: 1,
                                     outputPaddingH: 0, outputPaddingW: 1)),
        // resnet's up-sampling of a 1×1 map (a 4×4 image after two down-samplings).
        .init(input: [1, 8, 1, 1], weight: [8, 4, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1, outputPadding: 1)),
        // Kernel smaller than the stride: some phases have no taps, so oneDNN's kernel runs.
        .init(input: [1, 4, 5, 5], weight: [4, 4, 1, 1], geometry: ConvGeometry(stride: 2, outputPadding: 1)),
    ]

    @Test(arguments: cases)
    func matchesReference(_ c: ConvolutionTests.Case) throws {
        let x = randomTensor(c.input, seed: 41)
        let w = randomTensor(c.weight, seed: 42, scale: 0.3)
        let b = randomTensor([c.weight[1]], seed: 43)
        for bias in [b, nil] {
            let expected = try Backends.reference.convTranspose2d(x, weight: w, bias: bias, geometry: c.geometry)
            for backend in [Self.phased, Self.banded, Backends.direct] {
                let got = try backend.convTranspose2d(x, weight: w, bias: bias, geometry: c.geometry)
                #expect(got.shape == expected.shape)
                #expect(got.maxAbsDifference(expected) <= 1e-4, "bias \(bias != nil)")
            }
        }
    }

    @Test func phasesPartitionTheOutput() throws {
        // Every output position belongs to exactly one phase: phase outputs add up per axis.
        for c in Self.cases {
            guard let p = PhasedTransposedConvolution(input: c.input, weight: c.weight, geometry: c.geometry) else { continue }
            let out = c.geometry.transposedOutput(h: c.input[2], w: c.input[3], kh: c.weight[2], kw: c.weight[3])
            #expect(p.rows.map(\.outputs).reduce(0, +) == out.h)
            #expect(p.columns.map(\.outputs).reduce(0, +) == out.w)
            #expect(p.rows.map(\.taps.count).reduce(0, +) == c.weight[2])
        }
        #expect(PhasedTransposedConvolution(input: [1, 4, 5, 5], weight: [4, 4, 1, 1],
                                            geometry: ConvGeometry(stride: 2, outputPadding: 1)) == nil)
    }

    @Test func splitIsUsedWhereItWasMeasuredFaster() throws {
        let resnet = try #require(PhasedTransposedConvolution(input: [1, 256, 64, 64], weight: [256, 128, 3, 3],
                                                              geometry: ConvGeometry(stride: 2, padding: 1, outputPadding: 1)))
        #expect(resnet.paysOff)
        #expect(resnet.rows.map(\.taps) == [[1], [2, 0]])
        let unet = try #require(PhasedTransposedConvolution(input: [1, 256, 64, 64], weight: [256, 64, 4, 4],
                                                            geometry: ConvGeometry(stride: 2, padding: 1)))
        #expect(!unet.paysOff)
        #expect(PhasedTransposedConvolution(input: [1, 4, 6, 5], weight: [4, 6, 3, 3], geometry: ConvGeometry(padding: 1)) == nil)
    }

    /// Training changes weights in place between steps: the cached phase weights must follow.
    @Test func cachedPhaseWeightsFollowInPlaceUpdates() throws {
        let x = randomTensor([1, 8, 6, 6], seed: 44)
        let w = randomTensor([8, 4, 3, 3], seed: 45, scale: 0.3)
        let g = ConvGeometry(stride: 2, padding: 1, outputPadding: 1)
        _ = try Self.phased.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        w.assign(from: randomTensor([8, 4, 3, 3], seed: 46, scale: 0.3))
        let got = try Self.phased.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        let expected = try Backends.reference.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        #expect(got.maxAbsDifference(expected) <= 1e-4)
    }
}
