import Engine
import Foundation
import Testing
import TestSupport

/// The ops of CUT's PatchNCE: values against plain double-precision loops written from the CUT
/// repository's definitions, gradients against central differences (2e-3 of the largest
/// gradient, float finite differences). The whole loss is checked against PyTorch in
/// `TrainingStepParityTests.cutFirstStepMatchesPyTorch`.
struct ContrastiveOpsTests {
    @Test func linearMatchesLoopsAndDifferences() throws {
        let x = randomVariable([5, 7], seed: 1), w = randomVariable([4, 7], seed: 2), b = randomVariable([4], seed: 3)
        let y = try linear(x, weight: w, bias: b).data.values
        let (xv, wv, bv) = (x.data.values, w.data.values, b.data.values)
        for r in 0..<5 {
            for o in 0..<4 {
                let expected = (0..<7).reduce(Double(bv[o])) { $0 + Double(xv[r * 7 + $1]) * Double(wv[o * 7 + $1]) }
                #expect(abs(Double(y[r * 4 + o]) - expected) <= 1e-5)
            }
        }
        #expect(try finiteDifferenceError([x, w, b]) { v in try linear(v[0], weight: v[1], bias: v[2]) } <= 2e-3)
    }

    @Test func sampledPositionsAndTheirGradient() throws {
        let x = randomVariable([2, 3, 4, 5], seed: 4)
        let ids = [7, 0, 19, 7]
        let y = try samplePositions(x, ids: ids)
        #expect(y.shape == [8, 3])
        let xv = x.data.values, yv = y.data.values
        for b in 0..<2 { for (t, id) in ids.enumerated() { for c in 0..<3 { #expect(yv[(b * 4 + t) * 3 + c] == xv[(b * 3 + c) * 20 + id]) } } }
        #expect(try finiteDifferenceError([x]) { v in try samplePositions(v[0], ids: ids) } <= 2e-3)
        #expect(throws: EngineError.self) { try samplePositions(x, ids: [20]) }
    }

    @Test func rowNormalisation() throws {
        let x = randomVariable([6, 5], seed: 5, awayFromZero: 0.1)
        let y = try l2NormalizeRows(x).data.values
        for r in 0..<6 {
            let norm = (0..<5).reduce(0.0) { $0 + Double(y[r * 5 + $1]) * Double(y[r * 5 + $1]) }.squareRoot()
            #expect(abs(norm - 1) <= 1e-5)
        }
        #expect(try finiteDifferenceError([x], step: 1e-3) { v in try l2NormalizeRows(v[0]) } <= 2e-3)
    }

    /// The loss of two images of three rows against a direct evaluation of CUT's formula.
    @Test func patchNCEMatchesItsDefinition() throws {
        let q = randomVariable([6, 4], seed: 6), k = randomTensor([6, 4], seed: 7)
        let t: Float = 0.5
        let loss = Double(try patchNCELoss(q, keys: k, images: 2, temperature: t).data.values[0])
        let (qv, kv) = (q.data.values, k.values)
        func dot(_ i: Int, _ j: Int) -> Double { (0..<4).reduce(0.0) { $0 + Double(qv[i * 4 + $1]) * Double(kv[j * 4 + $1]) } }
        var total = 0.0
        for b in 0..<2 {
            for i in 0..<3 {
                let row = b * 3 + i
                let logits = [dot(row, row)] + (0..<3).map { j in j == i ? -10 : dot(row, b * 3 + j) }
                let scaled = logits.map { $0 / Double(t) }
                total += log(scaled.reduce(0) { $0 + exp($1) }) - scaled[0]
            }
        }
        #expect(abs(loss - total / 6) <= 1e-5)
        #expect(try finiteDifferenceError([q], step: 1e-3) { v in try patchNCELoss(v[0], keys: k, images: 2, temperature: t) } <= 2e-3)
    }

    @Test func batchSliceAndFlip() throws {
        let x = randomVariable([3, 2, 2, 3], seed: 8)
        let s = try sliceBatch(x, 1..<3)
        #expect(s.data.values == Array(x.data.values[12...]))
        #expect(try finiteDifferenceError([x]) { v in try sliceBatch(v[0], 1..<3) } <= 2e-3)
        let flipped = try flipWidth(x).data.values
        #expect(Array(flipped.prefix(3)) == Array(x.data.values.prefix(3).reversed()))
        #expect(try finiteDifferenceError([x]) { v in try flipWidth(v[0]) } <= 2e-3)
    }
}
