@testable import Engine
import Testing
import TestSupport

/// Strided convolutions run as one 3×3 convolution over the input's space-to-depth grid by
/// Gantry's Winograd (`SpaceToDepthWinograd`), forced on every CPU, against the double-precision
/// reference loops, with WinogradTests' tolerance (2e-3 absolute on O(1) outputs).
struct SpaceToDepthWinogradTests {
    static let fused = try! DNNLBackend(algorithm: .winograd, winogradImplementation: .gantry, stridedImplementation: .winograd)
    /// A scratch budget of one tile row: every image runs in many blocks.
    static let blocked = try! DNNLBackend(algorithm: .winograd, bandBytes: 1, winogradImplementation: .gantry,
                                          stridedImplementation: .winograd)

    static let cases: [ConvolutionTests.Case] = [
        // The U-Net's down-sampling (4×4, stride 2, pad 1): even and odd sizes, a batch of two.
        .init(input: [1, 8, 18, 14], weight: [16, 8, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        .init(input: [2, 5, 13, 11], weight: [12, 5, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        // Down to one output pixel (the U-Net's innermost 2×2 → 1×1).
        .init(input: [1, 16, 2, 2], weight: [16, 16, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1)),
        // resnet's 3×3 stride-2 down-sampling, no padding, stride 3, asymmetric padding.
        .init(input: [1, 8, 9, 10], weight: [8, 8, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1)),
        .init(input: [1, 4, 10, 9], weight: [6, 4, 4, 4], geometry: ConvGeometry(stride: 2)),
        .init(input: [1, 4, 14, 13], weight: [6, 4, 5, 6], geometry: ConvGeometry(stride: 3, padding: 2)),
        .init(input: [1, 4, 9, 12], weight: [8, 4, 4, 3],
              geometry: ConvGeometry(strideH: 2, strideW: 1, padTop: 1, padLeft: 1, padBottom: 2, padRight: 1)),
    ]

    @Test(arguments: cases)
    func matchesReference(_ c: ConvolutionTests.Case) throws {
        let conv = try #require(SpaceToDepthWinograd(input: c.input, weight: c.weight, geometry: c.geometry))
        #expect(conv.phaseCount == c.geometry.strideH * c.geometry.strideW)
        let x = randomTensor(c.input, seed: 61)
        let w = randomTensor(c.weight, seed: 62, scale: 0.3)
        let b = randomTensor([c.weight[0]], seed: 63)
        for bias in [b, nil] {
            let expected = try Backends.reference.conv2d(x, weight: w, bias: bias, geometry: c.geometry)
            for backend in [Self.fused, Self.blocked] {
                let got = try backend.conv2d(x, weight: w, bias: bias, geometry: c.geometry)
                #expect(got.shape == expected.shape)
                #expect(got.maxAbsDifference(expected) <= 2e-3, "bias \(bias != nil)")
            }
        }
    }

    /// The U-Net's layer: taps 0…3 read components 1, 0, 1, 0 at window rows 0, 1, 1, 2.
    @Test func uNetLayerFuses() throws {
        let unet = try #require(SpaceToDepthWinograd(input: [1, 64, 256, 256], weight: [128, 64, 4, 4],
                                                     geometry: ConvGeometry(stride: 2, padding: 1)))
        #expect(unet.rowTaps.map(\.phase) == [1, 0, 1, 0] && unet.rowTaps.map(\.window) == [0, 1, 1, 2])
        #expect(unet.geometry.padTop == 1 && unet.geometry.padBottom == 0 && unet.gridHeight == 129)
        #expect(unet.directMultiplications / unet.winogradMultiplications == 16.0 / 9.0)
        // Stride 1 is not this algorithm's; a 7×7 stride-2 kernel spans four grid rows.
        #expect(SpaceToDepthWinograd(input: [1, 4, 8, 8], weight: [4, 4, 3, 3], geometry: ConvGeometry(padding: 1)) == nil)
        #expect(SpaceToDepthWinograd(input: [1, 4, 16, 16], weight: [4, 4, 7, 7], geometry: ConvGeometry(stride: 2, padding: 3)) == nil)
        #expect(try Self.fused.implementation(forConv2dInput: [1, 64, 64, 64], weight: [128, 64, 4, 4],
                                              geometry: ConvGeometry(stride: 2, padding: 1)) == "gantry_wino_s2d:sgemm")
    }

    /// On a U-Net-width layer with the reference's weight scale, the error stays within a small
    /// multiple of direct fp32 convolution's (both against double precision).
    @Test func errorIsNearDirectConvolution() throws {
        let x = randomTensor([1, 64, 64, 64], seed: 64)
        let w = randomTensor([128, 64, 4, 4], seed: 65, scale: 0.02)
        let g = ConvGeometry(stride: 2, padding: 1)
        let exact = try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: g)
        let wino = try Self.fused.conv2d(x, weight: w, bias: nil, geometry: g)
        let direct = try Backends.direct.conv2d(x, weight: w, bias: nil, geometry: g)
        let (we, de) = (relativeL2(wino.values, exact.values), relativeL2(direct.values, exact.values))
        print("space-to-depth Winograd relative L2 error \(we), direct \(de)")
        #expect(we < 1e-5)
        #expect(we < 20 * max(de, 1e-7))
    }

    /// Training changes weights in place between steps: the transformed weights must follow.
    @Test func transformedWeightsFollowInPlaceUpdates() throws {
        let x = randomTensor([1, 8, 12, 12], seed: 66)
        let w = randomTensor([16, 8, 4, 4], seed: 67, scale: 0.3)
        let g = ConvGeometry(stride: 2, padding: 1)
        _ = try Self.fused.conv2d(x, weight: w, bias: nil, geometry: g)
        w.assign(from: randomTensor([16, 8, 4, 4], seed: 68, scale: 0.3))
        let got = try Self.fused.conv2d(x, weight: w, bias: nil, geometry: g)
        let expected = try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: g)
        #expect(got.maxAbsDifference(expected) <= 2e-3)
    }
}
