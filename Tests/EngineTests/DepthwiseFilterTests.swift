import Engine
import Testing
import TestSupport

/// The per-channel filters of CUT's blur layers against the reference convolution loops (a full
/// convolution whose weight holds each channel's filter on its diagonal and zeros elsewhere),
/// their gradients against central differences, and the banded forms streamed inference uses
/// against the whole. Tolerances: the same products summed in another order (1e-5 on O(1)
/// values); finite differences in float (2e-3 of the largest gradient).
struct DepthwiseFilterTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var input: [Int], kernel: Int, stride: Int, padding: Int
        var testDescription: String { "x\(input) k\(kernel) s\(stride) p\(padding)" }
    }

    static let cases: [Case] = [
        Case(input: [1, 3, 9, 7], kernel: 3, stride: 2, padding: 0),   // Downsample after its reflection pad
        Case(input: [2, 4, 8, 8], kernel: 4, stride: 2, padding: 3),   // Upsample after its replication pad
        Case(input: [1, 2, 10, 11], kernel: 3, stride: 1, padding: 1),
        Case(input: [1, 5, 7, 6], kernel: 4, stride: 3, padding: 2),
        Case(input: [1, 1, 5, 4], kernel: 2, stride: 2, padding: 0),
    ]

    /// A C×C×k×k weight with `filter[c]` at [c, c] and zeros elsewhere.
    static func diagonal(_ filter: Tensor) throws -> Tensor {
        let (c, k) = (filter.shape[0], filter.shape[2])
        var values = [Float](repeating: 0, count: c * c * k * k)
        let f = filter.values
        for ch in 0..<c { for i in 0..<(k * k) { values[(ch * c + ch) * k * k + i] = f[ch * k * k + i] } }
        return try Tensor(shape: [c, c, k, k], values: values)
    }

    @Test(arguments: cases)
    func forwardMatchesTheReferenceConvolutions(_ c: Case) throws {
        let x = randomTensor(c.input, seed: 1)
        let filter = randomTensor([c.input[1], 1, c.kernel, c.kernel], seed: 2)
        let full = try Self.diagonal(filter)
        let g = ConvGeometry(stride: c.stride, padding: c.padding)
        let conv = try depthwiseConv2d(Variable(x), filter: filter, stride: c.stride, padding: c.padding).data
        let expectedConv = try Backends.reference.conv2d(x, weight: full, bias: nil, geometry: g)
        #expect(conv.shape == expectedConv.shape)
        #expect(conv.maxAbsDifference(expectedConv) <= 1e-5)
        // PyTorch's transposed weight is (in, out, k, k): the diagonal reads the same.
        let up = try depthwiseConvTranspose2d(Variable(x), filter: filter, stride: c.stride, padding: c.padding).data
        let expectedUp = try Backends.reference.convTranspose2d(x, weight: full, bias: nil, geometry: g)
        #expect(up.shape == expectedUp.shape)
        #expect(up.maxAbsDifference(expectedUp) <= 1e-5)
    }

    @Test(arguments: cases)
    func gradientsMatchFiniteDifferences(_ c: Case) throws {
        let filter = randomTensor([c.input[1], 1, c.kernel, c.kernel], seed: 3)
        let x = randomVariable(c.input, seed: 4)
        let down = try finiteDifferenceError([x]) { v in try depthwiseConv2d(v[0], filter: filter, stride: c.stride, padding: c.padding) }
        #expect(down <= 2e-3)
        let up = try finiteDifferenceError([x]) { v in try depthwiseConvTranspose2d(v[0], filter: filter, stride: c.stride, padding: c.padding) }
        #expect(up <= 2e-3)
    }

    /// Rows computed band by band with the offsets streamed inference passes equal the rows of
    /// the whole: every band boundary, both kernels.
    @Test(arguments: cases)
    func bandsMatchTheWhole(_ c: Case) throws {
        let x = randomTensor(c.input, seed: 5)
        let filter = randomTensor([c.input[1], 1, c.kernel, c.kernel], seed: 6)
        let (h, k, s, p) = (c.input[2], c.kernel, c.stride, c.padding)
        func rows(_ t: Tensor, _ r: Range<Int>) throws -> Tensor {
            try crop2d(t, top: r.lowerBound, left: 0, height: r.count, width: t.shape[3])
        }
        let whole = try depthwiseConv2d(Variable(x), filter: filter, stride: s, padding: p).data
        let wholeUp = try depthwiseConvTranspose2d(Variable(x), filter: filter, stride: s, padding: p).data
        for band in 1...3 {
            for y0 in stride(from: 0, to: whole.shape[2], by: band) {
                let y1 = min(whole.shape[2], y0 + band)
                let i0 = max(0, s * y0 - p), i1 = min(h, s * (y1 - 1) - p + k)
                let got = try DepthwiseFilter.correlate(try rows(x, i0..<i1), filter: filter, stride: s, padding: p,
                                                        outputHeight: y1 - y0, outputWidth: whole.shape[3], inputRowOffset: s * y0 - i0)
                #expect(got.maxAbsDifference(try rows(whole, y0..<y1)) == 0, "rows \(y0)..<\(y1)")
            }
            for y0 in stride(from: 0, to: wholeUp.shape[2], by: band) {
                let y1 = min(wholeUp.shape[2], y0 + band)
                let i0 = max(0, DepthwiseFilter.ceilDiv(y0 + p - k + 1, s)), i1 = min(h, (y1 - 1 + p) / s + 1)
                let got = try DepthwiseFilter.spread(try rows(x, i0..<i1), filter: filter, stride: s, padding: p,
                                                     outputHeight: y1 - y0, outputWidth: wholeUp.shape[3], outputRowOffset: y0 - s * i0)
                #expect(got.maxAbsDifference(try rows(wholeUp, y0..<y1)) == 0, "rows \(y0)..<\(y1)")
            }
        }
    }

    @Test func refusesAFilterOfTheWrongShape() {
        let x = Variable(randomTensor([1, 3, 8, 8], seed: 7))
        #expect(throws: EngineError.self) { try depthwiseConv2d(x, filter: randomTensor([2, 1, 3, 3], seed: 8), stride: 2) }
        #expect(throws: EngineError.self) { try depthwiseConv2d(x, filter: randomTensor([3, 1, 9, 9], seed: 8), stride: 1) }
    }
}
