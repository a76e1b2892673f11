import Engine
import Testing
import TestSupport

/// When an op may write its result over its input (`reusableStorage`), and that ops which record
/// a node never do, whatever they are told.
struct ReuseTests {
    static func address(_ t: Tensor) -> UnsafePointer<Float>? { t.withUnsafeBufferPointer { $0.baseAddress } }

    /// A fresh result nobody else holds.
    static func fresh() throws -> Variable { try Activation.relu(Variable(randomTensor([1, 2, 3, 3], seed: 1))) }

    /// (A second handle on the same `Variable` is the caller's to rule out: containers ask only
    /// about values their own children just returned.)
    @Test func onlyAValueWhoseTensorNobodyElseHoldsIsReusable() throws {
        let unique = try Self.fresh()
        let input = Variable(randomTensor([1], seed: 2))
        let storage = try #require(reusableStorage(unique, sparing: input))
        #expect(Self.address(storage) == Self.address(unique.data))

        // The caller's own input, even when it is the only handle.
        let given = try Self.fresh()
        #expect(reusableStorage(given, sparing: given) == nil)

        // Its tensor held elsewhere (a Variable made from a caller's Tensor).
        let tensor = randomTensor([1, 2, 3, 3], seed: 3)
        let wrapped = Variable(tensor)
        withExtendedLifetime(tensor) { #expect(reusableStorage(wrapped, sparing: input) == nil) }

        // In a graph.
        let recorded = try Activation.relu(Variable(randomTensor([1, 2, 3, 3], seed: 4), requiresGrad: true))
        #expect(reusableStorage(recorded, sparing: input) == nil)
    }

    /// An op that records a node keeps its input for backward: `into:` is ignored, the input
    /// keeps its values, and the gradient is the one of the unreused op.
    @Test func recordingOpsIgnoreIntoAndKeepTheirInputs() throws {
        let values = randomTensor([2, 2, 3, 3], seed: 5).values
        func leaf() throws -> Variable { Variable(try Tensor(shape: [2, 2, 3, 3], values: values), requiresGrad: true) }

        let a = try leaf()
        let r = try Activation.leakyReLU(slope: 0.2)(a, into: a.data)
        let b = try leaf(), c = try leaf()
        let s = try add(b, c, into: b.data)
        let d = try leaf()
        let n = try normalize(d, statistics: .perInstance, weight: nil, bias: nil, activation: .relu, into: d.data).output
        for (input, output) in [(a, r), (b, s), (d, n)] {
            #expect(input.data.values == values)
            #expect(Self.address(output.data) != Self.address(input.data))
            #expect(output.requiresGrad)
        }
        // The fused norm+activation records two ops whose backward is ReLU's mask times the norm's.
        try mean(n).backward()
        let plain = try leaf()
        try mean(Activation.relu(normalize(plain, statistics: .perInstance, weight: nil, bias: nil).output)).backward()
        #expect(d.grad?.values == plain.grad?.values)
    }

    /// Where nothing is recorded, `into:` takes the result, and the fused norm+activation equals
    /// the two ops one after the other.
    @Test func unrecordedOpsWriteIntoWhatTheyAreGiven() throws {
        let x = randomTensor([2, 3, 4, 5], seed: 6, scale: 2)
        let separate = try Activation.relu(normalize(Variable(x), statistics: .perBatch, weight: nil, bias: nil).output)
        var target = try Tensor(shape: x.shape, values: x.values)
        let fused = try normalize(Variable(target), statistics: .perBatch, weight: nil, bias: nil, activation: .relu,
                                  into: target).output
        #expect(Self.address(fused.data) == Self.address(target))
        #expect(fused.data.values == separate.data.values)
        target = try Tensor(shape: x.shape, values: x.values)
        let summed = try add(Variable(target), Variable(x), into: target)
        #expect(Self.address(summed.data) == Self.address(target))
        #expect(summed.data.values == x.values.map { $0 + $0 })
    }
}
