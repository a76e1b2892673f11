@testable import Engine
import Testing
import TestSupport

/// Strided transposed convolutions whose phases fuse into one 3×3 convolution run by Gantry's
/// Winograd F(4×4, 3×3) (`PhaseWinograd`), forced on every CPU, against the double-precision
/// reference loops. Tolerance: WinogradTests' 2e-3 absolute on O(1) outputs; the measured error
/// against direct convolution's is bounded in `errorIsNearDirectConvolution`.
struct PhaseWinogradTests {
    static let fused = try! DNNLBackend(algorithm: .winograd, winogradImplementation: .gantry, transposedImplementation: .winograd)
    /// A scratch budget of one tile row: every image runs in many blocks.
    static let blocked = try! DNNLBackend(algorithm: .winograd, bandBytes: 1, winogradImplementation: .gantry,
                                          transposedImplementation: .winograd)

    static let cases: [ConvolutionTests.Case] = [
        // The U-Net's up-sampling (4×4, stride 2, pad 1), sizes that are not multiples of the tile.
        .init(input: [1, 32, 9, 7], weight: [32, 16, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        .init(input: [2, 20, 5, 13], weight: [20, 8, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        // One input pixel (the U-Net's innermost level) and one row.
        .init(input: [1, 16, 1, 1], weight: [16, 16, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        .init(input: [1, 16, 1, 6], weight: [16, 4, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        // resnet's up-sampling: phases of 1×1 to 2×2 taps at their own window offsets.
        .init(input: [1, 16, 6, 5], weight: [16, 8, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1, outputPadding: 1)),
        // No padding, and other strides per axis.
        .init(input: [1, 8, 5, 6], weight: [8, 8, 2, 2], geometry: ConvGeometry(stride: 2)),
        .init(input: [1, 8, 4, 5], weight: [8, 6, 4, 3],
              geometry: ConvGeometry(strideH: 2, strideW: 3, padTop: 1, padLeft: 0, padBottom: 1, padRight: 0)),
    ]

    @Test(arguments: cases)
    func matchesReference(_ c: ConvolutionTests.Case) throws {
        let conv = try #require(PhaseWinograd(input: c.input, weight: c.weight, geometry: c.geometry))
        #expect(conv.phaseCount == c.geometry.strideH * c.geometry.strideW)
        let x = randomTensor(c.input, seed: 51)
        let w = randomTensor(c.weight, seed: 52, scale: 0.3)
        let b = randomTensor([c.weight[1]], seed: 53)
        for bias in [b, nil] {
            let expected = try Backends.reference.convTranspose2d(x, weight: w, bias: bias, geometry: c.geometry)
            for backend in [Self.fused, Self.blocked] {
                let got = try backend.convTranspose2d(x, weight: w, bias: bias, geometry: c.geometry)
                #expect(got.shape == expected.shape)
                #expect(got.maxAbsDifference(expected) <= 2e-3, "bias \(bias != nil)")
            }
        }
    }

    /// Shapes whose phases do not fit one 3×3 window, or differ in output count, are not fused.
    @Test func onlyWellFormedShapesFuse() {
        // Kernel 5, stride 2: phases of 3 and 2 taps whose output counts differ (8 and 7 rows).
        #expect(PhaseWinograd(input: [1, 4, 6, 6], weight: [4, 4, 5, 5], geometry: ConvGeometry(stride: 2, padding: 0)) == nil)
        // Odd output (no output padding on resnet's 3×3): the phases differ by one row.
        #expect(PhaseWinograd(input: [1, 4, 6, 6], weight: [4, 4, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1)) == nil)
        #expect(PhaseWinograd(input: [1, 4, 6, 6], weight: [4, 4, 3, 3], geometry: ConvGeometry(stride: 1, padding: 1)) == nil)
        let unet = PhaseWinograd(input: [1, 256, 64, 64], weight: [256, 64, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1))
        #expect(unet?.rowStart == [0, 1] && unet?.geometry.padTop == 1 && unet?.geometry.padBottom == 1)
        #expect(unet.map { $0.directMultiplications / $0.winogradMultiplications } == 16.0 / 9.0)
    }

    /// On a U-Net-width layer with the reference's weight scale, the fused Winograd's error
    /// stays within a small multiple of direct fp32's (both against double precision).
    @Test func errorIsNearDirectConvolution() throws {
        let x = randomTensor([1, 128, 32, 32], seed: 54)
        let w = randomTensor([128, 64, 4, 4], seed: 55, scale: 0.02)
        let g = ConvGeometry(stride: 2, padding: 1)
        let exact = try Backends.reference.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        let wino = try Self.fused.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        let direct = try Backends.direct.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        let (we, de) = (relativeL2(wino.values, exact.values), relativeL2(direct.values, exact.values))
        print("fused-phase Winograd relative L2 error \(we), direct \(de)")
        #expect(we < 1e-5)
        #expect(we < 20 * max(de, 1e-7))
    }

    /// Weights that change between calls are reported as being trained (and their `U` dropped),
    /// from the first change on; weights that do not change are not.
    @Test func weightsThatChangeAreSeenAsTrained() throws {
        let conv = try #require(PhaseWinograd(input: [1, 16, 6, 6], weight: [16, 8, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)))
        let cache = WinogradWeightCache()
        let w = randomTensor([16, 8, 4, 4], seed: 59), fixed = randomTensor([16, 8, 4, 4], seed: 60)
        _ = try cache.weights(for: w, adjoint: false, fuse: conv.fusedWeights)
        _ = try cache.weights(for: fixed, adjoint: false, fuse: conv.fusedWeights)
        #expect(!cache.changes(w) && !cache.changes(fixed))
        w.assign(from: randomTensor([16, 8, 4, 4], seed: 61))
        #expect(cache.changes(w) && cache.changes(w) && !cache.changes(fixed))
    }

    /// Training changes weights in place between steps: the fused weights must follow.
    @Test func fusedWeightsFollowInPlaceUpdates() throws {
        let x = randomTensor([1, 16, 6, 6], seed: 56)
        let w = randomTensor([16, 8, 4, 4], seed: 57, scale: 0.3)
        let g = ConvGeometry(stride: 2, padding: 1)
        _ = try Self.fused.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        w.assign(from: randomTensor([16, 8, 4, 4], seed: 58, scale: 0.3))
        let got = try Self.fused.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        let expected = try Backends.reference.convTranspose2d(x, weight: w, bias: nil, geometry: g)
        #expect(got.maxAbsDifference(expected) <= 2e-3)
    }
}
