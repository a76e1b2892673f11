import Engine
import Foundation
import Testing
import TestSupport

/// Every op's backward against central finite differences (reference convolutions accumulate in
/// Double; the probe step is 1e-2 on O(1) values). Tolerance 2e-3 of the largest gradient: the
/// objective's float rounding divided by the step is ~1e-5, and the truncation error of central
/// differences on these smooth or piecewise-linear functions (inputs kept away from kinks) ~1e-4.
struct BackwardFiniteDifferenceTests {
    static let tolerance = 2e-3
    let reference = Backends.reference

    struct ConvCase: CustomTestStringConvertible, Sendable {
        var input: [Int], weight: [Int], geometry: ConvGeometry, transposed: Bool
        var testDescription: String { "\(transposed ? "convT" : "conv") x\(input) w\(weight) s\(geometry.strideH) p\(geometry.padTop)" }
    }

    static let convCases: [ConvCase] = [
        ConvCase(input: [2, 3, 6, 5], weight: [4, 3, 3, 3], geometry: ConvGeometry(padding: 1), transposed: false),
        ConvCase(input: [1, 2, 8, 8], weight: [3, 2, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1), transposed: false),
        ConvCase(input: [1, 3, 7, 6], weight: [2, 3, 7, 7], geometry: ConvGeometry(padding: 3), transposed: false),
        ConvCase(input: [1, 4, 3, 4], weight: [4, 2, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1, outputPadding: 1), transposed: true),
        ConvCase(input: [2, 3, 3, 3], weight: [3, 2, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1), transposed: true),
    ]

    @Test(arguments: convCases)
    func convolution(_ c: ConvCase) throws {
        let x = randomVariable(c.input, seed: 1)
        let w = randomVariable(c.weight, seed: 2, scale: 0.5)
        let b = randomVariable([c.transposed ? c.weight[1] : c.weight[0]], seed: 3)
        let error = try finiteDifferenceError([x, w, b]) { v in
            c.transposed ? try convTranspose2d(v[0], weight: v[1], bias: v[2], geometry: c.geometry, backend: reference)
                         : try conv2d(v[0], weight: v[1], bias: v[2], geometry: c.geometry, backend: reference)
        }
        #expect(error <= Self.tolerance)
    }

    @Test(arguments: [PaddingMode.reflect, .replicate, .zero])
    func padding(_ mode: PaddingMode) throws {
        let x = randomVariable([2, 2, 5, 4], seed: 4)
        let error = try finiteDifferenceError([x]) { v in try pad2d(v[0], top: 3, bottom: 1, left: 2, right: 3, mode: mode) }
        #expect(error <= Self.tolerance)
    }

    @Test(arguments: ["instance", "instance-affine", "batch", "running"])
    func normalization(_ kind: String) throws {
        let x = randomVariable([3, 2, 4, 5], seed: 5, scale: 2)
        let w = randomVariable([2], seed: 6), b = randomVariable([2], seed: 7)
        let affine = kind != "instance"
        let statistics: NormStatistics
        switch kind {
        case "batch": statistics = .perBatch
        case "running": statistics = .running(mean: randomTensor([2], seed: 8), variance: try Tensor(shape: [2], values: [0.5, 2]))
        default: statistics = .perInstance
        }
        let inputs = affine ? [x, w, b] : [x]
        let error = try finiteDifferenceError(inputs, step: 1e-2) { v in
            try normalize(v[0], statistics: statistics, weight: affine ? v[1] : nil, bias: affine ? v[2] : nil).output
        }
        #expect(error <= Self.tolerance)
    }

    @Test(arguments: [Activation.relu, .leakyReLU(slope: 0.2), .tanh])
    func activation(_ act: Activation) throws {
        let x = randomVariable([2, 3, 4, 4], seed: 9, scale: 2, awayFromZero: 0.05)
        #expect(try finiteDifferenceError([x]) { v in try act(v[0]) } <= Self.tolerance)
    }

    @Test func dropoutUsesTheForwardMask() throws {
        let x = randomVariable([2, 3, 4, 4], seed: 10)
        // The same seed every evaluation, so finite differences see the mask backward kept.
        let error = try finiteDifferenceError([x]) { v in try dropout(v[0], probability: 0.5, random: RandomSource(seed: 3)) }
        #expect(error <= Self.tolerance)
        let y = try dropout(x, probability: 0.5, random: RandomSource(seed: 3))
        let zeros = y.data.values.filter { $0 == 0 }.count
        #expect(zeros > 20 && zeros < 76, "about half of 96 values dropped, got \(zeros)")
    }

    @Test func residualAddConcatScaleAndLabels() throws {
        let a = randomVariable([2, 3, 3, 4], seed: 11), b = randomVariable([2, 3, 3, 4], seed: 12)
        let c = randomVariable([2, 2, 3, 4], seed: 13), labels = randomVariable([2, 3], seed: 14)
        let error = try finiteDifferenceError([a, b, c, labels]) { v in
            let sum = try scale(add(v[0], v[1]), by: 0.7)
            return try concatChannels([sum, v[2], labelPlanes(v[3], height: 3, width: 4)])
        }
        #expect(error <= Self.tolerance)
    }

    @Test(arguments: ["bce", "mse", "l1", "mean", "hinge-real", "hinge-fake"])
    func losses(_ kind: String) throws {
        let x = randomVariable([2, 1, 3, 3], seed: 15, scale: 2, awayFromZero: 0.05)
        // Targets 0.5 from every prediction's kink: L1 at x = t, hinge at x = ±1.
        let target = try Tensor(shape: x.shape, values: x.data.values.map { $0 + ($0.truncatingRemainder(dividingBy: 0.2) > 0 ? 0.5 : -0.5) })
        let error = try finiteDifferenceError([x], step: 1e-3) { v in
            switch kind {
            case "bce": return try bceWithLogits(v[0], .tensor(try Tensor(shape: x.shape, repeating: 0.3)))
            case "mse": return try mse(v[0], .constant(1))
            case "l1": return try l1(v[0], .tensor(target))
            case "mean": return try mean(v[0])
            case "hinge-real": return try meanHinge(v[0], sign: -1)
            default: return try meanHinge(v[0], sign: 1)
            }
        }
        #expect(error <= Self.tolerance)
    }

    @Test func lossValuesMatchTheirDefinitions() throws {
        let x = Variable(try Tensor(shape: [4], values: [-2, -0.5, 0.5, 3]))
        let t = try Tensor(shape: [4], values: [0, 1, 1, 0])
        func v(_ y: Variable) -> Double { Double(y.data.values[0]) }
        func bceTerm(_ x: Double, _ t: Double) -> Double {
            let p = 1 / (1 + exp(-x))
            return -(t * log(p) + (1 - t) * log(1 - p))
        }
        let bce = (bceTerm(-2, 0) + bceTerm(-0.5, 1) + bceTerm(0.5, 1) + bceTerm(3, 0)) / 4
        #expect(abs(v(try bceWithLogits(x, .tensor(t))) - bce) < 1e-6)
        #expect(abs(v(try mse(x, .constant(1))) - (9 + 2.25 + 0.25 + 4) / 4) < 1e-6)
        #expect(abs(v(try l1(x, .tensor(t))) - (2 + 1.5 + 0.5 + 3) / 4) < 1e-6)
        #expect(abs(v(try meanHinge(x, sign: -1)) - (3 + 1.5 + 0.5 + 0) / 4) < 1e-6)
        // A large logit must not overflow: log(1 + e^100) computed stably.
        #expect(abs(v(try bceWithLogits(Variable(try Tensor(shape: [1], values: [100])), .constant(0))) - 100) < 1e-4)
    }
}

/// oneDNN's backward-data and backward-weights primitives against the reference loops.
/// Direct convolution differs from Double loops by float summation order only: 1e-4 relative.
struct BackwardBackendTests {
    static let cases: [BackwardFiniteDifferenceTests.ConvCase] = BackwardFiniteDifferenceTests.convCases + [
        .init(input: [2, 16, 12, 10], weight: [32, 16, 3, 3], geometry: ConvGeometry(padding: 1), transposed: false),
        // A resnet block's width: oneDNN's Winograd backward on AVX-512.
        .init(input: [1, 64, 16, 16], weight: [64, 64, 3, 3], geometry: ConvGeometry(padding: 1), transposed: false),
        .init(input: [1, 8, 16, 16], weight: [16, 8, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1), transposed: false),
        .init(input: [2, 6, 9, 7], weight: [1, 6, 4, 4], geometry: ConvGeometry(padding: 1), transposed: false),
        .init(input: [1, 16, 6, 5], weight: [16, 8, 3, 3], geometry: ConvGeometry(stride: 2, padding: 1, outputPadding: 1), transposed: true),
        .init(input: [2, 12, 4, 4], weight: [12, 6, 4, 4], geometry: ConvGeometry(stride: 2, padding: 1), transposed: true),
    ]

    @Test(arguments: cases)
    func oneDNNMatchesReference(_ c: BackwardFiniteDifferenceTests.ConvCase) throws {
        let x = randomTensor(c.input, seed: 21), w = randomTensor(c.weight, seed: 22, scale: 0.3)
        let forward = c.transposed ? try Backends.reference.convTranspose2d(x, weight: w, bias: nil, geometry: c.geometry)
                                   : try Backends.reference.conv2d(x, weight: w, bias: nil, geometry: c.geometry)
        let gy = randomTensor(forward.shape, seed: 23)
        for backend in [Backends.direct as ConvolutionBackend, Backends.winograd] {
            let gx = try backend.convolutionBackwardData(gy, weight: w, inputShape: c.input, geometry: c.geometry, transposed: c.transposed)
            let expected = try Backends.reference.convolutionBackwardData(gy, weight: w, inputShape: c.input, geometry: c.geometry,
                                                                          transposed: c.transposed)
            #expect(relativeL2(gx.values, expected.values) <= 1e-5)
            let (gw, gb) = try backend.convolutionBackwardWeights(x, gradOutput: gy, weightShape: c.weight, bias: true,
                                                                  geometry: c.geometry, transposed: c.transposed)
            let (ew, eb) = try Backends.reference.convolutionBackwardWeights(x, gradOutput: gy, weightShape: c.weight, bias: true,
                                                                             geometry: c.geometry, transposed: c.transposed)
            #expect(relativeL2(gw.values, ew.values) <= 1e-5)
            #expect(relativeL2(gb!.values, eb!.values) <= 1e-5)
        }
    }

    /// The data gradient of a convolution is the transposed convolution with the same weights
    /// (and vice versa): an independent check of the reference loops themselves.
    @Test func dataGradientIsTheAdjointConvolution() throws {
        let gy = randomTensor([1, 4, 5, 5], seed: 24), w = randomTensor([4, 3, 3, 3], seed: 25)
        let g = ConvGeometry(stride: 2, padding: 1, outputPadding: 0)
        let gx = try Backends.reference.convolutionBackwardData(gy, weight: w, inputShape: [1, 3, 9, 9], geometry: g, transposed: false)
        let adjoint = try Backends.reference.convTranspose2d(gy, weight: w, bias: nil, geometry: g)
        #expect(gx.maxAbsDifference(adjoint) <= 1e-6)
    }
}
