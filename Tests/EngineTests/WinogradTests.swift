@testable import Engine
import Testing
import TestSupport

/// Gantry's Winograd F(4×4, 3×3) against the double-precision reference loops, on every CPU
/// (it runs by default only where oneDNN has no Winograd, i.e. AVX2; here it is forced).
///
/// Tolerance: 2e-3 absolute on outputs of size O(1), the bound oneDNN's own Winograd is held to
/// in ConvolutionTests; the measured error is far below it (see `errorIsNearDirectConvolution`).
struct WinogradTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var input: [Int], outputs: Int, geometry: ConvGeometry
        var testDescription: String {
            "x\(input) → \(outputs) pad \(geometry.padTop),\(geometry.padLeft),\(geometry.padBottom),\(geometry.padRight)"
        }
    }

    static func pads(_ t: Int, _ l: Int, _ b: Int, _ r: Int) -> ConvGeometry {
        ConvGeometry(strideH: 1, strideW: 1, padTop: t, padLeft: l, padBottom: b, padRight: r)
    }

    static let cases: [Case] = [
        // A resnet block's shape (reflection pad outside, so the conv itself pads 0), small.
        Case(input: [1, 32, 18, 18], outputs: 32, geometry: pads(0, 0, 0, 0)),
        // Same-size output, sizes that are not multiples of the 4×4 tile, a batch of two.
        Case(input: [2, 16, 13, 11], outputs: 24, geometry: ConvGeometry(padding: 1)),
        // Channel counts that are not multiples of the SIMD width; one tile row only.
        Case(input: [1, 20, 3, 37], outputs: 17, geometry: ConvGeometry(padding: 1)),
        // Asymmetric padding, up to the 2 the adjoint needs.
        Case(input: [1, 16, 9, 21], outputs: 16, geometry: pads(2, 0, 1, 2)),
        // Wider than one SIMD vector of tiles (40 tiles per row).
        Case(input: [1, 16, 6, 160], outputs: 16, geometry: ConvGeometry(padding: 1)),
        // Outputs smaller than one tile: 2×3, and 1×1 from an unpadded 3×3 input.
        Case(input: [1, 16, 2, 3], outputs: 16, geometry: ConvGeometry(padding: 1)),
        Case(input: [2, 16, 3, 3], outputs: 16, geometry: pads(0, 0, 0, 0)),
    ]

    /// Blocks of two tile rows over five (the last block shorter), for all three passes
    /// through a backend whose scratch budget forces them.
    @Test func shortLastBlockInEveryPass() throws {
        let (cin, cout) = (16, 16)
        let x = randomTensor([2, cin, 19, 21], seed: 46)
        let w = randomTensor([cout, cin, 3, 3], seed: 47, scale: 0.3)
        let g = ConvGeometry(padding: 1)
        let tilesW = (21 + 3) / 4
        let twoRows = 2 * 36 * (cin + cout) * tilesW * 4 + 1
        #expect(WinogradConvolution(input: x.shape, outputChannels: cout, geometry: g, blockBytes: twoRows).rowsPerBlock == 2)
        let backend = try DNNLBackend(algorithm: .winograd, bandBytes: twoRows, winogradImplementation: .gantry)
        let reference = Backends.reference
        let y = try backend.conv2d(x, weight: w, bias: nil, geometry: g)
        #expect(try y.maxAbsDifference(reference.conv2d(x, weight: w, bias: nil, geometry: g)) <= 2e-3)
        let gy = randomTensor(y.shape, seed: 48)
        let gx = try backend.convolutionBackwardData(gy, weight: w, inputShape: x.shape, geometry: g, transposed: false)
        #expect(try gx.maxAbsDifference(reference.convolutionBackwardData(gy, weight: w, inputShape: x.shape, geometry: g,
                                                                          transposed: false)) <= 2e-3)
        let gw = try backend.convolutionBackwardWeights(x, gradOutput: gy, weightShape: w.shape, bias: false, geometry: g,
                                                         transposed: false).weight
        let expected = try reference.convolutionBackwardWeights(x, gradOutput: gy, weightShape: w.shape, bias: false,
                                                                geometry: g, transposed: false).weight
        #expect(gw.maxAbsDifference(expected) <= 2e-2)
    }

    @Test(arguments: cases)
    func forwardMatchesReference(_ c: Case) throws {
        let x = randomTensor(c.input, seed: 21)
        let w = randomTensor([c.outputs, c.input[1], 3, 3], seed: 22, scale: 0.3)
        let b = randomTensor([c.outputs], seed: 23)
        let expected = try Backends.reference.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        let got = try Backends.gantryWinograd.conv2d(x, weight: w, bias: b, geometry: c.geometry)
        #expect(got.shape == expected.shape)
        #expect(got.maxAbsDifference(expected) <= 2e-3)
        let noBias = try Backends.gantryWinograd.conv2d(x, weight: w, bias: nil, geometry: c.geometry)
        #expect(try noBias.maxAbsDifference(Backends.reference.conv2d(x, weight: w, bias: nil, geometry: c.geometry)) <= 2e-3)
    }

    @Test(arguments: cases)
    func inputGradientMatchesReference(_ c: Case) throws {
        let w = randomTensor([c.outputs, c.input[1], 3, 3], seed: 24, scale: 0.3)
        let (oh, ow) = c.geometry.convOutput(h: c.input[2], w: c.input[3], kh: 3, kw: 3)
        let gy = randomTensor([c.input[0], c.outputs, oh, ow], seed: 25)
        let expected = try Backends.reference.convolutionBackwardData(gy, weight: w, inputShape: c.input, geometry: c.geometry,
                                                                       transposed: false)
        let got = try Backends.gantryWinograd.convolutionBackwardData(gy, weight: w, inputShape: c.input, geometry: c.geometry,
                                                                       transposed: false)
        #expect(got.shape == expected.shape)
        #expect(got.maxAbsDifference(expected) <= 2e-3)
    }

    @Test(arguments: cases)
    func weightGradientMatchesReference(_ c: Case) throws {
        let x = randomTensor(c.input, seed: 33)
        let shape = [c.outputs, c.input[1], 3, 3]
        let (oh, ow) = c.geometry.convOutput(h: c.input[2], w: c.input[3], kh: 3, kw: 3)
        let gy = randomTensor([c.input[0], c.outputs, oh, ow], seed: 34)
        let expected = try Backends.reference.convolutionBackwardWeights(x, gradOutput: gy, weightShape: shape, bias: true,
                                                                          geometry: c.geometry, transposed: false)
        let got = try Backends.gantryWinograd.convolutionBackwardWeights(x, gradOutput: gy, weightShape: shape, bias: true,
                                                                          geometry: c.geometry, transposed: false)
        // Each weight gradient sums over every output pixel: scale the bound by the count.
        let scale = Float(c.input[0] * oh * ow).squareRoot()
        #expect(got.weight.shape == shape)
        #expect(got.weight.maxAbsDifference(expected.weight) <= 2e-3 * scale)
        #expect(try #require(got.bias).maxAbsDifference(try #require(expected.bias)) <= 1e-3 * scale)
    }

    /// Blocks of one tile row each (a tiny scratch budget) give the same result as one block:
    /// the block loop covers every tile exactly once, across images too.
    @Test func blocksCoverEveryTileOnce() throws {
        let x = randomTensor([2, 16, 23, 19], seed: 26)
        let w = randomTensor([16, 16, 3, 3], seed: 27, scale: 0.3)
        let g = ConvGeometry(padding: 1)
        let expected = try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: g)
        let u = try Tensor(uninitialized: [36 * 16 * 16])
        WinogradF43.transformWeights(w.pointer, cout: 16, cin: 16, adjoint: false, into: u.mutablePointer)
        for budget in [1, 1 << 30] {
            let conv = WinogradConvolution(input: x.shape, outputChannels: 16, geometry: g, blockBytes: budget)
            #expect(conv.rowsPerBlock == (budget == 1 ? 1 : conv.tilesH))
            let y = try Tensor(shape: expected.shape, repeating: .nan)
            try conv.run(x: x.pointer, u: u.pointer, bias: nil, y: y.mutablePointer)
            #expect(y.maxAbsDifference(expected) <= 2e-3, "budget \(budget)")
        }
        // The weight gradient accumulates its GEMMs over blocks and images.
        let gy = randomTensor(expected.shape, seed: 35)
        let gw = try Backends.reference.convolutionBackwardWeights(x, gradOutput: gy, weightShape: w.shape, bias: false,
                                                                    geometry: g, transposed: false).weight
        for budget in [1, 1 << 30] {
            let conv = WinogradConvolution(input: x.shape, outputChannels: 16, geometry: g, blockBytes: budget)
            let got = try Tensor(shape: w.shape, repeating: .nan)
            try conv.weightGradient(x: x.pointer, gradOutput: gy.pointer, into: got.mutablePointer, gradBias: nil)
            #expect(got.maxAbsDifference(gw) <= 2e-2, "budget \(budget)")
        }
    }

    /// On a resnet-width layer with the reference's weight scale, Winograd's error stays within
    /// a small multiple of direct fp32 convolution's (both against double precision).
    @Test func errorIsNearDirectConvolution() throws {
        let x = randomTensor([1, 128, 32, 32], seed: 28)
        let w = randomTensor([128, 128, 3, 3], seed: 29, scale: 0.05)
        let g = ConvGeometry(padding: 1)
        let exact = try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: g)
        let wino = try Backends.gantryWinograd.conv2d(x, weight: w, bias: nil, geometry: g)
        let direct = try Backends.direct.conv2d(x, weight: w, bias: nil, geometry: g)
        let (we, de) = (relativeL2(wino.values, exact.values), relativeL2(direct.values, exact.values))
        print("Winograd F(4×4) relative L2 error \(we), direct \(de)")
        #expect(we < 1e-5)
        #expect(we < 20 * max(de, 1e-7))
    }

    /// Training updates weights in place: the cached transformed weights must follow, for the
    /// forward and the adjoint alike.
    @Test func transformedWeightsFollowInPlaceUpdates() throws {
        let x = randomTensor([1, 16, 8, 8], seed: 30)
        let w = randomTensor([16, 16, 3, 3], seed: 31)
        let g = ConvGeometry(padding: 1)
        _ = try Backends.gantryWinograd.conv2d(x, weight: w, bias: nil, geometry: g)
        _ = try Backends.gantryWinograd.convolutionBackwardData(x, weight: w, inputShape: x.shape, geometry: g, transposed: false)
        w.assign(from: randomTensor([16, 16, 3, 3], seed: 32))
        let y = try Backends.gantryWinograd.conv2d(x, weight: w, bias: nil, geometry: g)
        #expect(try y.maxAbsDifference(Backends.reference.conv2d(x, weight: w, bias: nil, geometry: g)) <= 2e-3)
        let gx = try Backends.gantryWinograd.convolutionBackwardData(x, weight: w, inputShape: x.shape, geometry: g, transposed: false)
        let expected = try Backends.reference.convolutionBackwardData(x, weight: w, inputShape: x.shape, geometry: g, transposed: false)
        #expect(gx.maxAbsDifference(expected) <= 2e-3)
    }

    /// Edge cases the review found: an empty batch gives zero gradients (not a recycled
    /// buffer's contents), inconsistent shapes are refused before anything is written, and the
    /// transformed weights of a freed tensor are dropped at the next insertion.
    @Test func emptyBatchMismatchedShapesAndFreedWeights() throws {
        let w = randomTensor([16, 16, 3, 3], seed: 36)
        let g = ConvGeometry(padding: 1)
        let empty = try Tensor(zeros: [0, 16, 8, 8])
        let grads = try Backends.gantryWinograd.convolutionBackwardWeights(empty, gradOutput: try Tensor(zeros: [0, 16, 8, 8]),
                                                                            weightShape: w.shape, bias: true, geometry: g,
                                                                            transposed: false)
        #expect(grads.weight.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } })
        #expect(try #require(grads.bias).withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } })
        let x = randomTensor([1, 16, 8, 8], seed: 37)
        #expect(throws: EngineError.self) {
            try Backends.gantryWinograd.convolutionBackwardWeights(x, gradOutput: randomTensor([1, 16, 7, 8], seed: 38),
                                                                   weightShape: w.shape, bias: false, geometry: g, transposed: false)
        }
        #expect(throws: EngineError.self) {
            try Backends.gantryWinograd.convolutionBackwardData(randomTensor([1, 16, 8, 8], seed: 39), weight: w,
                                                                inputShape: [1, 32, 8, 8], geometry: g, transposed: false)
        }
        let cache = WinogradWeightCache()
        do {
            let temporary = randomTensor([16, 16, 3, 3], seed: 40)
            _ = try cache.weights(for: temporary, adjoint: false)
            #expect(cache.count == 1)
        }
        _ = try cache.weights(for: w, adjoint: false)
        #expect(cache.count == 1)
    }

    @Test func appliesOnlyTo3x3Stride1WithSmallPadding() {
        #expect(WinogradConvolution.applies(weight: [8, 8, 3, 3], geometry: ConvGeometry(padding: 1)))
        #expect(!WinogradConvolution.applies(weight: [8, 8, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1)))
        #expect(!WinogradConvolution.applies(weight: [8, 8, 4, 4], geometry: ConvGeometry(padding: 1)))
        #expect(!WinogradConvolution.applies(weight: [8, 8, 3, 3], geometry: ConvGeometry(padding: 3)))
    }
}

/// The GEMM + shift-and-add path for layers with very few output channels (a generator's last
/// 7×7 layer) against the reference loops, in one band and in many.
struct NarrowConvolutionTests {
    @Test(arguments: [(ConvGeometry(), 1 << 30), (ConvGeometry(padding: 3), 1 << 30), (ConvGeometry(padding: 3), 1),
                      (ConvGeometry(strideH: 1, strideW: 1, padTop: 1, padLeft: 4, padBottom: 0, padRight: 2), 4096)])
    func matchesReference(_ g: ConvGeometry, bandBytes: Int) throws {
        let x = randomTensor([2, 16, 15, 12], seed: 40)
        let w = randomTensor([3, 16, 7, 7], seed: 41, scale: 0.1)
        let b = randomTensor([3], seed: 42)
        #expect(NarrowConvolution.applies(input: x.shape, weight: w.shape, geometry: g))
        let expected = try Backends.reference.conv2d(x, weight: w, bias: b, geometry: g)
        let conv = NarrowConvolution(input: x.shape, weight: w.shape, geometry: g, bandBytes: bandBytes)
        #expect(bandBytes > 1 << 20 ? conv.rowsPerBand == conv.outputHeight : conv.rowsPerBand < conv.outputHeight)
        let y = try Tensor(shape: expected.shape, repeating: .nan)
        try conv.run(x: x.pointer, weight: w.pointer, bias: b.pointer, y: y.mutablePointer)
        #expect(y.maxAbsDifference(expected) <= 1e-4)
        // Through the backend, as a generator calls it.
        #expect(try Backends.direct.conv2d(x, weight: w, bias: b, geometry: g).maxAbsDifference(expected) <= 1e-4)
    }

    /// The transposed form: the U-Net's last layer (k4 s2 p1) and a k3 s2 p1 output-padding 1
    /// layer, in one band and in many, against the reference loops.
    @Test(arguments: [([2, 16, 7, 5], [16, 3, 4, 4], ConvGeometry(stride: 2, padding: 1), 1 << 30),
                      ([1, 24, 9, 6], [24, 2, 4, 4], ConvGeometry(stride: 2, padding: 1), 1),
                      ([1, 16, 5, 8], [16, 4, 3, 3], ConvGeometry(stride: 2, padding: 1, outputPadding: 1), 3000),
                      ([1, 16, 6, 6], [16, 3, 3, 3], ConvGeometry(padding: 0), 1)])
    func transposedMatchesReference(_ input: [Int], _ weight: [Int], _ g: ConvGeometry, bandBytes: Int) throws {
        let x = randomTensor(input, seed: 43)
        let w = randomTensor(weight, seed: 44, scale: 0.2)
        let b = randomTensor([weight[1]], seed: 45)
        #expect(NarrowTransposedConvolution.applies(input: input, weight: weight))
        let expected = try Backends.reference.convTranspose2d(x, weight: w, bias: b, geometry: g)
        let conv = NarrowTransposedConvolution(input: input, weight: weight, geometry: g, bandBytes: bandBytes)
        if bandBytes < 1 << 20 { #expect(conv.rowsPerBand < conv.outputHeight) }
        let y = try Tensor(shape: expected.shape, repeating: .nan)
        try conv.run(x: x.pointer, weight: w.pointer, bias: b.pointer, y: y.mutablePointer)
        #expect(y.maxAbsDifference(expected) <= 1e-4)
        #expect(try Backends.direct.convTranspose2d(x, weight: w, bias: b, geometry: g).maxAbsDifference(expected) <= 1e-4)
    }

    @Test func servesOnlyFewOutputChannelsAtStride1() {
        #expect(NarrowConvolution.applies(input: [1, 64, 8, 8], weight: [3, 64, 7, 7], geometry: ConvGeometry(padding: 3)))
        #expect(!NarrowConvolution.applies(input: [1, 64, 8, 8], weight: [8, 64, 7, 7], geometry: ConvGeometry(padding: 3)))
        #expect(!NarrowConvolution.applies(input: [1, 64, 8, 8], weight: [3, 64, 4, 4], geometry: ConvGeometry(stride: 2)))
        #expect(!NarrowConvolution.applies(input: [1, 3, 8, 8], weight: [3, 3, 7, 7], geometry: ConvGeometry(padding: 3)))
    }
}
