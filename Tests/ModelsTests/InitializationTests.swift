import Engine
import Foundation
import Models
import Testing
import TestSupport

/// The reference's `init_weights`: statistics of every init type on large tensors, what is and
/// is not touched, in-place writes, and bit-for-bit reproducibility.
struct InitializationTests {
    static func meanAndStd(_ values: [Float]) -> (mean: Double, std: Double) {
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        return (mean, variance.squareRoot())
    }

    /// Mean within 6 standard errors of 0, and std within 1% (over 10 standard errors at these sizes).
    static func expectNormal(_ values: [Float], mean expectedMean: Double = 0, std expectedStd: Double,
                             _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let (mean, std) = meanAndStd(values)
        let n = Double(values.count)
        #expect(abs(mean - expectedMean) <= 6 * expectedStd / n.squareRoot(), "\(what): mean \(mean)", sourceLocation: sourceLocation)
        #expect(abs(std / expectedStd - 1) <= 0.01, "\(what): std \(std), expected \(expectedStd)", sourceLocation: sourceLocation)
    }

    @Test func normalXavierKaimingStatistics() throws {
        // Conv2d(256 → 128, 4×4): fan_in 4096, fan_out 2048; 524,288 weights.
        let conv = try Conv2d(256, 128, kernel: 4, bias: true)
        try conv.initializeWeights(.normal, gain: 0.02, seed: 1)
        Self.expectNormal(conv.weight.values, std: 0.02, "normal")
        try conv.initializeWeights(.xavier, gain: 0.7, seed: 2)
        Self.expectNormal(conv.weight.values, std: 0.7 * (2.0 / (4096 + 2048)).squareRoot(), "xavier")
        try conv.initializeWeights(.kaiming, gain: 0.02, seed: 3)  // the gain is ignored
        Self.expectNormal(conv.weight.values, std: (2.0 / 4096).squareRoot(), "kaiming")
        #expect(conv.bias!.values.allSatisfy { $0 == 0 })
    }

    @Test func transposedConvolutionFansFollowPyTorch() throws {
        // Weight (in 256, out 64, 4, 4): PyTorch's fan_in is size(1)·16 = 1024, fan_out 4096.
        let up = try ConvTranspose2d(256, 64, kernel: 4, stride: 2, padding: 1, bias: false)
        try up.initializeWeights(.kaiming, seed: 4)
        Self.expectNormal(up.weight.values, std: (2.0 / 1024).squareRoot(), "kaiming transposed")
        try up.initializeWeights(.xavier, gain: 1, seed: 5)
        Self.expectNormal(up.weight.values, std: (2.0 / (1024 + 4096)).squareRoot(), "xavier transposed")
    }

    /// W·Wᵀ (or Wᵀ·W) of the weight flattened to size(0) rows, divided by gain².
    static func gram(_ w: Tensor, rows: Int, gain: Float, ofRows: Bool) -> [[Double]] {
        let v = w.values.map { Double($0 / gain) }
        let cols = v.count / rows
        let n = ofRows ? rows : cols
        var g = Array(repeating: Array(repeating: 0.0, count: n), count: n)
        for a in 0..<n {
            for b in a..<n {
                var s = 0.0
                if ofRows { for k in 0..<cols { s += v[a * cols + k] * v[b * cols + k] } }
                else { for k in 0..<rows { s += v[k * cols + a] * v[k * cols + b] } }
                (g[a][b], g[b][a]) = (s, s)
            }
        }
        return g
    }

    static func maxDeviationFromIdentity(_ g: [[Double]]) -> Double {
        var m = 0.0
        for i in g.indices { for j in g.indices { m = max(m, abs(g[i][j] - (i == j ? 1 : 0))) } }
        return m
    }

    /// [out, in, kernel]: wide (64×288), tall (200×4), square (64×64), one row, one column.
    @Test(arguments: [[64, 32, 3], [200, 4, 1], [64, 64, 1], [1, 16, 2], [16, 1, 1]])
    func orthogonalIsOrthonormalTimesGain(_ shape: [Int]) throws {
        let conv = try Conv2d(shape[1], shape[0], kernel: shape[2], bias: true)
        let gain: Float = 0.5
        try conv.initializeWeights(.orthogonal, gain: gain, seed: 6)
        let rows = shape[0], cols = shape[1] * shape[2] * shape[2]
        // Fewer rows than columns: the rows are orthonormal; otherwise the columns are.
        if rows <= cols {
            #expect(Self.maxDeviationFromIdentity(Self.gram(conv.weight, rows: rows, gain: gain, ofRows: true)) <= 1e-5)
        }
        if rows >= cols {
            #expect(Self.maxDeviationFromIdentity(Self.gram(conv.weight, rows: rows, gain: gain, ofRows: false)) <= 1e-5)
        }
        #expect(conv.bias!.values.allSatisfy { $0 == 0 })
        // Not a fixed matrix: another seed gives another one.
        let first = conv.weight.values
        try conv.initializeWeights(.orthogonal, gain: gain, seed: 7)
        #expect(conv.weight.values != first)
    }

    @Test func batchNormWeightsAreNormalAroundOne() throws {
        let bn = try Norm2d(.batch, channels: 200_000)
        for name in ["bias", "running_mean"] {
            bn.namedTensors().first { $0.key == name }!.value.withUnsafeMutableBufferPointer { $0.update(repeating: 3) }
        }
        try bn.initializeWeights(.xavier, gain: 0.02, seed: 8)
        let t = Dictionary(uniqueKeysWithValues: bn.namedTensors().map { ($0.key, $0.value.values) })
        Self.expectNormal(t["weight"]!, mean: 1, std: 0.02, "BatchNorm weight")
        #expect(t["bias"]!.allSatisfy { $0 == 0 })
        // Buffers are not the init's business (the reference leaves them to PyTorch's defaults).
        #expect(t["running_mean"]!.allSatisfy { $0 == 3 })
        #expect(t["running_var"]!.allSatisfy { $0 == 1 })
    }

    @Test func instanceNormParametersKeepTheirDefaults() throws {
        let norm = try Norm2d(.instance(affine: true, tracksRunningStats: true), channels: 16)
        try norm.initializeWeights(seed: 9)
        let t = Dictionary(uniqueKeysWithValues: norm.namedTensors().map { ($0.key, $0.value.values) })
        #expect(t["weight"]!.allSatisfy { $0 == 1 } && t["bias"]!.allSatisfy { $0 == 0 })
    }

    @Test func writesIntoTheExistingStorage() throws {
        let d = try Discriminator(.nLayers(3, ndf: 4, norm: .batch, inputChannels: 6))
        let before = d.root.namedTensors()
        try d.initializeWeights(.orthogonal, gain: 0.02, seed: 10)
        let after = d.root.namedTensors()
        for (a, b) in zip(before, after) { #expect(a.value.storage === b.value.storage, "\(a.key)") }
        // The handles taken before see the new values.
        #expect(before.first { $0.key == "model.0.weight" }!.value.values.contains { $0 != 0 })
    }

    static func bits(_ root: Module) -> [[UInt32]] { root.namedTensors().map { $0.value.values.map(\.bitPattern) } }

    @Test(arguments: InitType.allCases)
    func sameSeedSameBitsOtherSeedOtherBits(_ type: InitType) throws {
        let a = try Discriminator(.stargan(imageSize: 32, convDim: 4, cDim: 3, repeatNum: 3))
        let b = try Discriminator(.stargan(imageSize: 32, convDim: 4, cDim: 3, repeatNum: 3))
        try a.initializeWeights(type, seed: 42)
        try b.initializeWeights(type, seed: 42)
        #expect(Self.bits(a.root) == Self.bits(b.root))
        try b.initializeWeights(type, seed: 43)
        #expect(Self.bits(a.root) != Self.bits(b.root))
        // Re-initialising overwrites everything the init draws: the result depends on the seed only.
        try b.initializeWeights(type, seed: 42)
        #expect(Self.bits(a.root) == Self.bits(b.root))
    }

    @Test func worksOnGeneratorsAndRunsFinite() throws {
        let g = try Generator(.resnet(blocks: 1, ngf: 4, norm: .batch))
        try g.root.initializeWeights(.kaiming, seed: 11)
        for entry in g.root.namedTensors() where !entry.isBuffer {
            let v = entry.value.values
            if entry.key.hasSuffix(".bias") { #expect(v.allSatisfy { $0 == 0 }, "\(entry.key)") }
            else { #expect(v.contains { $0 != 0 }, "\(entry.key)") }
        }
        let y = try g.forward(randomTensor([2, 3, 16, 16], seed: 1), context: ForwardContext(backend: Backends.direct))
        #expect(y.values.allSatisfy { $0.isFinite })
        let d = try Discriminator(.nLayers(3, ndf: 4, norm: .instance))
        try d.initializeWeights(seed: 12)
        #expect(try d.forward(randomTensor([1, 3, 32, 32], seed: 2), context: ForwardContext(backend: Backends.direct)).values.allSatisfy { $0.isFinite })
    }

    @Test func badGainsAreRefused() throws {
        let conv = try Conv2d(2, 2, kernel: 1, bias: false)
        for gain in [-1, Float.nan, .infinity] {
            #expect(throws: ModelError.self) { try conv.initializeWeights(.normal, gain: gain, seed: 1) }
        }
    }
}
