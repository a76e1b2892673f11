import Engine
import Foundation
import Models

/// Runs a generator on prepared images: whole when they fit the memory budget, otherwise
/// streamed layer by layer over row bands (`StreamedForward`), every normalisation still with
/// the whole image's statistics, so the output is the same either way.
public final class GeneratorRunner: @unchecked Sendable {
    public let generator: Generator
    public let settings: InferenceSettings
    public let backend: ConvolutionBackend
    /// Largest input (pixels) one whole pass may take.
    public let pixelLimit: Int
    /// Working memory of a streamed image (bands and activations kept in memory).
    public let streamingBytes: Int
    /// Where a streamed image's activations go beyond `streamingBytes / 2`.
    public let scratchDirectory: URL

    public init(generator: Generator, settings: InferenceSettings, backend: ConvolutionBackend, pixelLimit: Int,
                streamingBytes: Int = 1 << 30, scratchDirectory: URL = URL(fileURLWithPath: NSTemporaryDirectory())) {
        self.generator = generator
        self.settings = settings
        self.backend = backend
        self.pixelLimit = pixelLimit
        self.streamingBytes = streamingBytes
        self.scratchDirectory = scratchDirectory
    }

    /// A runner for one of `workers` running side by side under `configuration`'s memory budget
    /// (each gets its share) and scratch folder.
    public convenience init(generator: Generator, configuration c: ConversionPlan, backend: ConvolutionBackend,
                            workers: Int = 1) {
        let share = max(1, workers)
        // A streamed image needs a few bands at least, whatever the budget says.
        let working = max(64 << 20, c.memory.workingBytes(parameterCount: generator.parameterCount) / share)
        self.init(generator: generator, settings: c.settings, backend: backend,
                  pixelLimit: c.memory.pixelLimit(for: generator.architecture, parameterCount: generator.parameterCount) / share,
                  streamingBytes: working, scratchDirectory: c.scratch ?? URL(fileURLWithPath: NSTemporaryDirectory()))
    }

    private func context() -> ForwardContext {
        var c = settings.context(backend: backend)
        // The reference converts one image at a time: batches must not share statistics.
        c.batchStatisticsPerImage = true
        return c
    }

    /// Output for a batch of same-size inputs (N×C×H×W). A batch larger than the budget runs
    /// image by image, and images larger than it streamed. Throws when the network produces NaN
    /// or infinite values (NaN weights, overflow): such an output is no image.
    public func run(_ batch: Tensor) throws -> Tensor {
        let (n, _, h, w) = batch.nchw
        // Each image of a split batch was checked by its own run.
        if n > 1 && n * h * w > pixelLimit { return try Tensor(stacking: (0..<n).map { i in try run(try batch.image(i)) }) }
        let output: Tensor
        if n * h * w <= pixelLimit {
            let condition = try settings.conditionTensor(for: generator.architecture, batch: n)
            output = try generator.forward(batch, condition: condition, context: context())
        } else {
            output = try runStreamed(batch)
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

    /// Whether an input of this size runs streamed (layer by layer, over row bands).
    public func needsStreaming(width: Int, height: Int) -> Bool { width * height > pixelLimit }

    /// One image too large for a whole pass: `StreamedForward`, with half of `streamingBytes` for
    /// activations kept in memory and a quarter for each band's working set.
    func runStreamed(_ x: Tensor) throws -> Tensor {
        let condition = try settings.conditionTensor(for: generator.architecture, batch: 1)
        let scratch = ScratchSpace(directory: scratchDirectory, memoryLimit: streamingBytes / 2)
        return try StreamedForward(context: context(), scratch: scratch, bandBytes: max(1 << 20, streamingBytes / 4))(
            generator, x, condition: condition)
    }
}
