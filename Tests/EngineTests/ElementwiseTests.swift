import Engine
import Testing
import TestSupport

struct ElementwiseTests {
    @Test(arguments: [PaddingMode.zero, .reflect, .replicate])
    func paddingMatchesReference(_ mode: PaddingMode) throws {
        let x = randomTensor([2, 3, 7, 5], seed: 11)
        for p in [1, 3] {
            let got = try pad2d(x, top: p, bottom: p, left: p, right: p, mode: mode)
            #expect(got.maxAbsDifference(try ReferenceOps.pad(x, p, mode: mode)) == 0)
        }
    }

    @Test func reflectionPaddingKnownValues() throws {
        // torch.nn.ReflectionPad2d(2) on arange(1, 4) as a 1×3 row: [3, 2, 1, 2, 3, 2, 1]
        let x = try Tensor(shape: [1, 1, 1, 3], values: [1, 2, 3])
        let row = try pad2d(x, top: 0, bottom: 0, left: 2, right: 2, mode: .reflect).values
        #expect(row == [3, 2, 1, 2, 3, 2, 1])
        #expect(throws: EngineError.self) { try pad2d(x, top: 0, bottom: 0, left: 3, right: 3, mode: .reflect) }
    }

    @Test func instanceAndBatchNormMatchReference() throws {
        let x = randomTensor([3, 4, 9, 7], seed: 12, scale: 3)
        let w = randomTensor([4], seed: 13), b = randomTensor([4], seed: 14)
        for perInstance in [true, false] {
            let got = try normalize(x, statistics: perInstance ? .perInstance : .perBatch, weight: w, bias: b).output
            let expected = try ReferenceOps.normalize(x, perInstance: perInstance, weight: w.values, bias: b.values)
            #expect(got.maxAbsDifference(expected) <= 1e-5)
        }
        let plain = try normalize(x, statistics: .perInstance, weight: nil, bias: nil, activation: .relu).output
        let expected = try Activation.relu(try ReferenceOps.normalize(x, perInstance: true, weight: nil, bias: nil))
        #expect(plain.maxAbsDifference(expected) <= 1e-5)
    }

    @Test func runningStatisticsNormalisation() throws {
        let x = randomTensor([1, 2, 2, 2], seed: 15)
        let mean = try Tensor(shape: [2], values: [0.5, -1]), variance = try Tensor(shape: [2], values: [4, 0.25])
        let y = try normalize(x, statistics: .running(mean: mean, variance: variance), weight: nil, bias: nil).output
        let xs = x.values, ys = y.values
        for i in 0..<8 {
            let c = i / 4
            let expected = (xs[i] - mean.values[c]) / (variance.values[c] + 1e-5).squareRoot()
            #expect(abs(ys[i] - expected) <= 1e-6)
        }
    }

    @Test func batchNormRefusesSingleValues() {
        let x = randomTensor([1, 2, 1, 1], seed: 16)
        #expect(throws: EngineError.self) { try normalize(x, statistics: .perBatch, weight: nil, bias: nil) }
    }

    @Test func activations() throws {
        let x = try Tensor(shape: [1, 1, 1, 4], values: [-2, -0.5, 0, 3])
        #expect(try Activation.relu(x).values == [0, 0, 0, 3])
        #expect(try Activation.leakyReLU(slope: 0.2)(x).values == [-0.4, -0.1, 0, 3])
        let t = try Activation.tanh(x).values
        #expect(abs(t[3] - 0.9950547) < 1e-6)
    }

    @Test func concatAndLabelPlanes() throws {
        let a = try Tensor(shape: [2, 1, 1, 2], values: [1, 2, 3, 4])
        let b = try Tensor(shape: [2, 2, 1, 2], values: [5, 6, 7, 8, 9, 10, 11, 12])
        #expect(try concatChannels([a, b]).values == [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
        let labels = try Tensor(shape: [1, 2], values: [0, 1])
        #expect(try labelPlanes(labels, height: 1, width: 2).values == [0, 0, 1, 1])
        #expect(throws: EngineError.self) { try concatChannels([a, Tensor(zeros: [2, 1, 2, 2])]) }
    }

    @Test func dropoutIsSeededAndScaled() throws {
        let x = try Tensor(shape: [1, 1, 100, 100], repeating: 1)
        let (y1, mask) = try dropout(x, probability: 0.5, random: RandomSource(seed: 42))
        let (y2, _) = try dropout(x, probability: 0.5, random: RandomSource(seed: 42))
        #expect(y1.values == y2.values)
        let kept = mask.values.reduce(0, +)
        #expect(kept > 4700 && kept < 5300)
        #expect(Set(y1.values) == [0, 2])
    }
}

/// Sizes come from images and flags: memory that cannot be had is an error, never a trap.
struct AllocationTests {
    @Test(arguments: [[1 << 40, 1 << 30], [1 << 48], [Int.max, 2], [1, -3]])
    func impossibleTensorsThrow(_ shape: [Int]) {
        #expect(throws: EngineError.self) { try Tensor(uninitialized: shape) }
    }

    @Test func outOfMemoryNamesTheSizeAndTheFix() {
        do {
            _ = try Tensor(zeros: [1 << 47])
            Issue.record("a 512 TB tensor was allocated")
        } catch {
            #expect(error.code == .outOfMemory)
            #expect(error.message.contains("memory limit"), "\(error)")
        }
    }
}

/// Batches: stacking items into N×… and taking item i back out, values and refusals.
struct TensorBatchTests {
    @Test func stackAndTakeBack() throws {
        let a = try Tensor(shape: [1, 2, 1, 2], values: [1, 2, 3, 4]), b = try Tensor(shape: [1, 2, 1, 2], values: [5, 6, 7, 8])
        let batch = try Tensor(stacking: [a, b])
        #expect(batch.shape == [2, 2, 1, 2] && batch.values == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try batch.image(1).values == b.values && batch.image(1).shape == [1, 2, 1, 2])
        #expect(try batch.image(0).values == a.values)
        // Labels (N×c) stack the same way; one item is itself.
        #expect(try Tensor(stacking: [Tensor(shape: [1, 3], values: [0, 1, 0]), Tensor(shape: [2, 3], values: [1, 0, 0, 0, 0, 1])]).values == [0, 1, 0, 1, 0, 0, 0, 0, 1])
        #expect(try Tensor(stacking: [a]).values == a.values)
        #expect(throws: EngineError.self) { try Tensor(stacking: [a, Tensor(shape: [1, 2, 2, 1], values: [1, 2, 3, 4])]) }
        #expect(throws: EngineError.self) { try Tensor(stacking: []) }
        #expect(throws: EngineError.self) { try batch.image(2) }
    }
}
