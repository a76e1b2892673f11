import Engine
import Foundation
import Models

/// Runs a generator on prepared images: whole when they fit the memory budget, otherwise in
/// overlapping tiles whose normalisation layers use statistics of the whole image.
public final class GeneratorRunner: @unchecked Sendable {
    public let generator: Generator
    public let settings: InferenceSettings
    public let backend: ConvolutionBackend
    /// Largest input (pixels) one pass may take.
    public let pixelLimit: Int
    /// Context each side of a tile that is computed but not kept (blended over half of it).
    public let overlap: Int

    public init(generator: Generator, settings: InferenceSettings, backend: ConvolutionBackend, pixelLimit: Int,
                overlap: Int? = nil) {
        self.generator = generator
        self.settings = settings
        self.backend = backend
        self.pixelLimit = pixelLimit
        let m = generator.architecture.sizeMultiple
        self.overlap = overlap.map { ($0 + m - 1) / m * m } ?? max(m, 96)
    }

    private func context(tape: NormStatisticsTape? = nil) -> ForwardContext {
        var c = settings.context(backend: backend)
        // The reference converts one image at a time: batches must not share statistics.
        c.batchStatisticsPerImage = true
        c.statisticsTape = tape
        return c
    }

    /// Output for a batch of same-size inputs (N×C×H×W). A batch larger than the budget runs
    /// image by image, and images larger than it in tiles. Throws when the network produces NaN
    /// or infinite values (NaN weights, overflow): such an output is no image.
    public func run(_ batch: Tensor) throws -> Tensor {
        let (n, _, h, w) = batch.nchw
        // Each image of a split batch was checked by its own run.
        if n > 1 && n * h * w > pixelLimit { return try stack((0..<n).map { i in try run(try image(i, of: batch)) }) }
        let output: Tensor
        if n * h * w <= pixelLimit {
            let condition = try settings.conditionTensor(for: generator.architecture, batch: n)
            output = try generator.forward(batch, condition: condition, context: context())
        } else {
            output = try runTiled(batch)
        }
        try Self.checkFinite(output)
        return output
    }

    static func checkFinite(_ output: Tensor) throws {
        let bad = output.withUnsafeBufferPointer { p in p.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } }
        if bad > 0 {
            throw ModelError(.nonFiniteOutput, "the network produced \(bad) NaN or infinite values (the checkpoint's weights are NaN/Inf or overflow); no output written")
        }
    }

    private func image(_ i: Int, of batch: Tensor) throws -> Tensor {
        let per = batch.count / batch.shape[0]
        let one = try Tensor(uninitialized: [1] + batch.shape.dropFirst())
        one.withUnsafeMutableBufferPointer { dst in
            batch.withUnsafeBufferPointer { dst.baseAddress!.update(from: $0.baseAddress! + i * per, count: per) }
        }
        return one
    }

    private func stack(_ images: [Tensor]) throws -> Tensor {
        let per = images[0].count
        let out = try Tensor(uninitialized: [images.count] + images[0].shape.dropFirst())
        out.withUnsafeMutableBufferPointer { p in
            for (i, t) in images.enumerated() {
                t.withUnsafeBufferPointer { (p.baseAddress! + i * per).update(from: $0.baseAddress!, count: per) }
            }
        }
        return out
    }

    /// Whether an input of this size will be tiled.
    public func needsTiling(width: Int, height: Int) -> Bool { width * height > pixelLimit }

    /// Tiles: a core of `core`×`core` plus `overlap` of context on each side, normalised with
    /// statistics recorded from one pass over the whole image shrunk to fit (`statisticsLimit`
    /// pixels). `wholeImageStatistics: false` lets each tile use its own (for comparison).
    func runTiled(_ x: Tensor, statisticsLimit: Int? = nil, tileLimit: Int? = nil,
                  wholeImageStatistics: Bool = true) throws -> Tensor {
        let pixelLimit = tileLimit ?? self.pixelLimit
        let a = generator.architecture
        let m = a.sizeMultiple
        let (_, _, h, w) = x.nchw
        let condition = try settings.conditionTensor(for: a, batch: 1)
        let tape = NormStatisticsTape()
        if wholeImageStatistics {
            let reduced = try reducedCopy(x, pixelLimit: statisticsLimit ?? pixelLimit, multiple: m)
            _ = try generator.forward(reduced, condition: condition, context: context(tape: tape))
        }
        var side = Int(Double(pixelLimit).squareRoot()) / m * m
        side = max(side, 2 * overlap + m)
        let core = side - 2 * overlap
        let outChannels = a.outputChannels
        var accum = [Float](repeating: 0, count: outChannels * h * w)
        var weights = [Float](repeating: 0, count: h * w)
        for ty in stride(from: 0, to: h, by: core) {
            for tx in stride(from: 0, to: w, by: core) {
                let y0 = max(0, ty - overlap), x0 = max(0, tx - overlap)
                let y1 = min(h, ty + core + overlap), x1 = min(w, tx + core + overlap)
                let tile = try crop2d(x, top: y0, left: x0, height: y1 - y0, width: x1 - x0)
                tape.rewindForReplay()
                let out = try generator.forward(tile, condition: condition,
                                                context: context(tape: wholeImageStatistics ? tape : nil))
                blend(out, into: &accum, weights: &weights, at: (x0, y0), size: (x1 - x0, y1 - y0),
                      image: (w, h), edges: (x0 > 0, y0 > 0, x1 < w, y1 < h))
            }
        }
        let y = try Tensor(uninitialized: [1, outChannels, h, w])
        y.withUnsafeMutableBufferPointer { p in
            for c in 0..<outChannels {
                for i in 0..<(h * w) { p[c * h * w + i] = accum[c * h * w + i] / weights[i] }
            }
        }
        return y
    }

    /// Adds a tile's output with weights that fall linearly to zero across the overlap on
    /// sides that border another tile, so seams fade instead of showing.
    private func blend(_ out: Tensor, into accum: inout [Float], weights: inout [Float], at origin: (x: Int, y: Int),
                       size: (w: Int, h: Int), image: (w: Int, h: Int), edges: (Bool, Bool, Bool, Bool)) {
        let ramp = Float(overlap)
        func weight(_ d: Int, _ inner: Bool) -> Float { inner ? min(1, (Float(d) + 0.5) / ramp) : 1 }
        let c = out.shape[1]
        out.withUnsafeBufferPointer { op in
            for ty in 0..<size.h {
                let wy = min(weight(ty, edges.1), weight(size.h - 1 - ty, edges.3))
                for tx in 0..<size.w {
                    let wgt = wy * min(weight(tx, edges.0), weight(size.w - 1 - tx, edges.2))
                    let dst = (origin.y + ty) * image.w + origin.x + tx
                    weights[dst] += wgt
                    for ch in 0..<c { accum[ch * image.h * image.w + dst] += wgt * op[(ch * size.h + ty) * size.w + tx] }
                }
            }
        }
    }

    /// The image shrunk (antialiased) to at most `pixelLimit` pixels with sides a multiple of `multiple`.
    private func reducedCopy(_ x: Tensor, pixelLimit: Int, multiple m: Int) throws -> Tensor {
        let (_, c, h, w) = x.nchw
        let s = min(1, (Double(pixelLimit) / Double(h * w)).squareRoot())
        let rh = max(m, Int(Double(h) * s) / m * m), rw = max(m, Int(Double(w) * s) / m * m)
        let planes = x.withUnsafeBufferPointer { p in (0..<c).map { ch in Array(p[(ch * h * w)..<((ch + 1) * h * w)]) } }
        let small = Resampler.resize(PlanarImage(width: w, height: h, planes: planes, maxValue: 1), width: rw, height: rh)
        return try Tensor(shape: [1, c, rh, rw], values: Array(small.planes.joined()))
    }
}
