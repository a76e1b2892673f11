import Engine
import Runs
import TestSupport
import Testing
import Training

/// The reference's ImagePool rule, checked against an independent model of it driven by a
/// second RandomSource with the same seed.
struct ImagePoolTests {
    /// N images of 1×2×2 whose every value is the image's id, so an output tells where it came from.
    private func batch(_ ids: [Float]) throws -> Tensor {
        try Tensor(shape: [ids.count, 1, 2, 2], values: ids.flatMap { Array(repeating: $0, count: 4) })
    }

    private func ids(_ t: Tensor) -> [Float] { stride(from: 0, to: t.count, by: 4).map { t.values[$0] } }

    @Test func sizeZeroReturnsTheInputItself() throws {
        let pool = try ImagePool(size: 0, random: RandomSource(seed: 1))
        let x = try batch([1, 2, 3])
        let y = try pool.query(x)
        #expect(y.storage === x.storage)
        #expect(pool.count == 0)
    }

    @Test func fillsThenSwapsAsTheReferenceDoes() throws {
        let size = 4
        let pool = try ImagePool(size: size, random: RandomSource(seed: 42))
        let model = RandomSource(seed: 42)
        var stored: [Float] = []
        var fromPool = 0, passedThrough = 0
        var next: Float = 1
        for batchSize in [1, 2, 3, 1, 5, 2, 4, 1, 3, 3, 2, 6] {
            let input = (0..<batchSize).map { Float($0) + next }
            next += Float(batchSize)
            var expected: [Float] = []
            for id in input {
                if stored.count < size {
                    stored.append(id)
                    expected.append(id)
                } else if model.nextUnit() > 0.5 {
                    let slot = Int(model.next() % UInt64(size))
                    expected.append(stored[slot])
                    stored[slot] = id
                    fromPool += 1
                } else {
                    expected.append(id)
                    passedThrough += 1
                }
            }
            let output = try pool.query(try batch(input))
            #expect(output.shape == [batchSize, 1, 2, 2])
            #expect(ids(output) == expected)
            #expect(pool.count == min(size, stored.count))
            #expect(try (0..<pool.count).map { try pool.storedImage($0).values[0] } == stored)
        }
        // Both outcomes happened, so the test saw the swap and the pass-through.
        #expect(fromPool > 5 && passedThrough > 5)
    }

    @Test func fillingReturnsInputsAndStoresCopies() throws {
        let pool = try ImagePool(size: 3, random: RandomSource(seed: 7))
        let x = try batch([1, 2])
        #expect(ids(try pool.query(x)) == [1, 2])
        x.withUnsafeMutableBufferPointer { $0.update(repeating: -5) }   // the caller reuses its buffer
        #expect(try pool.storedImage(0).values == [1, 1, 1, 1])
        #expect(ids(try pool.query(try batch([3]))) == [3])
        #expect(pool.count == 3)
    }

    @Test func sameSeedSameOutputs() throws {
        func outputs(seed: UInt64) throws -> [Float] {
            let pool = try ImagePool(size: 5, random: RandomSource(seed: seed))
            var out: [Float] = []
            for k in 0..<30 { out += ids(try pool.query(try batch([Float(2 * k), Float(2 * k + 1)]))) }
            return out
        }
        #expect(try outputs(seed: 3) == outputs(seed: 3))
        #expect(try outputs(seed: 3) != outputs(seed: 4))
    }

    @Test func refusesBadShapesAndSizes() throws {
        #expect(throws: TrainingError.self) { try ImagePool(size: -1, random: RandomSource(seed: 1)) }
        let pool = try ImagePool(size: 2, random: RandomSource(seed: 1))
        _ = try pool.query(try batch([1]))
        #expect(throws: TrainingError.self) { try pool.query(try Tensor(zeros: [1, 2, 2, 2])) }
        #expect(throws: TrainingError.self) { try pool.query(try Tensor(zeros: [4, 4])) }
        #expect(throws: TrainingError.self) { try pool.storedImage(1) }
    }
}

/// What exact resume needs from the pool and the random source.
struct ResumeStateTests {
    @Test func randomSourceContinuesFromItsSavedState() throws {
        let a = RandomSource(seed: 9)
        for _ in 0..<5 { _ = a.next() }
        let b = try RandomSource(state: a.state)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
        #expect(throws: EngineError.self) { try RandomSource(state: [0, 0, 0, 0]) }
        #expect(throws: EngineError.self) { try RandomSource(state: [1, 2]) }
    }

    @Test func aRestoredPoolAnswersLikeTheOriginal() throws {
        let r1 = RandomSource(seed: 4)
        let pool = try ImagePool(size: 3, random: r1)
        for i in 0..<5 { _ = try pool.query(randomTensor([1, 2, 2, 2], seed: UInt64(i))) }
        let saved = try (0..<pool.count).map { try pool.storedImage($0) }
        let r2 = try RandomSource(state: r1.state)
        let copy = try ImagePool(size: 3, random: r2)
        try copy.restore(saved)
        for i in 5..<15 {
            let x = randomTensor([1, 2, 2, 2], seed: UInt64(i))
            #expect(try pool.query(x).values == copy.query(x).values)
        }
        #expect(throws: TrainingError.self) { try copy.restore(Array(repeating: saved[0], count: 4)) }
    }
}
