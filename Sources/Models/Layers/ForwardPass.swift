import Engine

/// How the generator behaves at inference, matching the reference test script's switches.
public struct ForwardContext {
    public enum BatchNormMode: Sendable {
        /// Statistics of the images being converted: what the reference `test.py` does, since it
        /// never calls `eval()` (and what pix2pix's authors intended).
        case batchStatistics
        /// Stored running statistics (`--eval`).
        case runningStatistics
    }

    public var backend: ConvolutionBackend
    public var batchNorm: BatchNormMode
    /// Stochastic dropout when set (`--dropout --seed N`); nil keeps output deterministic.
    public var dropout: RandomSource?
    /// BatchNorm batch statistics taken per image, so a batch of N gives each image exactly what a
    /// batch of one would (the reference test script's batch size); off means PyTorch's per-batch.
    public var batchStatisticsPerImage: Bool

    public init(backend: ConvolutionBackend, batchNorm: BatchNormMode = .batchStatistics, dropout: RandomSource? = nil,
                batchStatisticsPerImage: Bool = false) {
        self.backend = backend
        self.batchNorm = batchNorm
        self.dropout = dropout
        self.batchStatisticsPerImage = batchStatisticsPerImage
    }
}

/// How a network runs while it trains (PyTorch's `train()` mode): normalisation from the batch
/// being processed, running statistics updated as a side effect, and stochastic dropout.
/// This process's part of a data-parallel global batch: which of its items it holds. Layers that
/// draw per item (dropout) draw for the whole global batch from the shared generator and keep
/// their rows, so every item gets the draws it would get in one process.
public final class BatchShard: @unchecked Sendable {
    /// Items in the global batch, and the first of this rank's.
    public var total: Int
    public var offset: Int
    /// Sums across the ranks in rank order: BatchNorm's statistics over the global batch
    /// (nil: each rank's own, which is not the global batch's).
    public var sum: (@Sendable ([Double]) throws -> [Double])?
    /// Every rank's N×… tensor stacked in rank order into the global batch's (CycleGAN's image
    /// pools see the global batch of fakes, as one process's would).
    public var gather: ((Tensor) throws -> Tensor)?

    public init(total: Int = 1, offset: Int = 0, sum: (@Sendable ([Double]) throws -> [Double])? = nil) {
        (self.total, self.offset, self.sum) = (total, offset, sum)
    }
}

public struct TrainingContext {
    public var backend: ConvolutionBackend
    /// Dropout's random source; nil turns dropout off (`--no_dropout` networks have none anyway).
    public var dropout: RandomSource?
    /// Data-parallel training: the part of the global batch this rank holds (nil: all of it).
    public var shard: BatchShard?
    /// Weight of the newest batch in BatchNorm's running statistics (PyTorch's `momentum`).
    public var momentum: Float
    /// Off for forwards that must leave the buffers alone (e.g. drawing sample grids mid-run).
    public var updatesRunningStatistics: Bool

    public init(backend: ConvolutionBackend, dropout: RandomSource? = nil, momentum: Float = 0.1,
                updatesRunningStatistics: Bool = true, shard: BatchShard? = nil) {
        self.backend = backend
        self.dropout = dropout
        self.shard = shard
        self.momentum = momentum
        self.updatesRunningStatistics = updatesRunningStatistics
    }
}

/// One forward through the layers, for conversion or for training: what every layer's one
/// `forward(_:_:)` reads. Made from a `ForwardContext` (conversion: nothing recorded, parameters as
/// constants, intermediates overwritten in place) or a `TrainingContext` (training: parameters as
/// autograd leaves, batch statistics, running statistics updated).
public struct ForwardPass {
    /// Where BatchNorm takes its mean and variance.
    public enum BatchStatistics: Sendable {
        /// Over the batch (N×H×W), as PyTorch's `train()` mode.
        case batch
        /// Over each image alone (a batch of N converts as N batches of one).
        case perImage
        /// The stored running statistics (`eval()`).
        case running
    }

    public var backend: ConvolutionBackend
    /// Dropout's random source; nil makes dropout the identity.
    public var dropout: RandomSource?
    public var batchStatistics: BatchStatistics
    /// Weight of this batch in the running statistics; nil leaves them alone.
    public var runningStatisticsMomentum: Float?
    /// Training: parameters are autograd leaves, so ops record what backward needs. Conversion:
    /// parameters are plain values, nothing is recorded, and containers may write a layer's result
    /// over an intermediate nobody else holds (`reusableStorage`).
    public var recordsGradients: Bool
    /// Training's `TrainingContext.shard`.
    public var shard: BatchShard?

    /// Conversion, as the reference test script runs it.
    public init(_ context: ForwardContext) {
        backend = context.backend
        dropout = context.dropout
        switch context.batchNorm {
        case .runningStatistics: batchStatistics = .running
        case .batchStatistics: batchStatistics = context.batchStatisticsPerImage ? .perImage : .batch
        }
        runningStatisticsMomentum = nil
        recordsGradients = false
    }

    /// Training, as PyTorch's `train()` mode.
    public init(_ context: TrainingContext) {
        backend = context.backend
        dropout = context.dropout
        shard = context.shard
        batchStatistics = .batch
        runningStatisticsMomentum = context.updatesRunningStatistics ? context.momentum : nil
        recordsGradients = true
    }
}
