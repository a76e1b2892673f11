/// The reference's learning-rate policies (`networks.get_scheduler`, `--lr_policy`).
public enum LearningRatePolicy: Equatable, Sendable {
    /// `LambdaLR` with the reference's `lambda_rule`: lr × (1 − max(0, epoch + epoch_count −
    /// n_epochs) / (n_epochs_decay + 1)). Constant for `nEpochs` epochs, then linear to zero.
    case linear(nEpochs: Int, nEpochsDecay: Int, epochCount: Int)
    /// `StepLR(step_size=lr_decay_iters, gamma)`: × gamma every `decayEvery` epochs.
    case step(decayEvery: Int, gamma: Double)
    /// `CosineAnnealingLR(T_max=n_epochs, eta_min)`.
    case cosine(tMax: Int, etaMin: Double)
    /// `ReduceLROnPlateau`, stepped with a metric.
    case plateau(PlateauSettings)
    /// yunjey/stargan's solver, stepped once per iteration: after iteration i, once i >
    /// `numIters − numItersDecay`, every `updateEvery` iterations lr −= lr₀ / `numItersDecay`.
    case starGAN(numIters: Int, numItersDecay: Int, updateEvery: Int)

    /// `--lr_policy step` as the reference builds it (gamma 0.1).
    public static func step(decayEvery: Int) -> LearningRatePolicy { .step(decayEvery: decayEvery, gamma: 0.1) }
    /// `--lr_policy cosine` as the reference builds it (eta_min 0).
    public static func cosine(tMax: Int) -> LearningRatePolicy { .cosine(tMax: tMax, etaMin: 0) }
    /// `--lr_policy plateau` as the reference builds it.
    public static var plateau: LearningRatePolicy { .plateau(PlateauSettings()) }
}

/// `ReduceLROnPlateau`'s settings; the defaults are the reference's (mode 'min', factor 0.2,
/// threshold 0.01 relative, patience 5) and PyTorch's (cooldown 0, min_lr 0, eps 1e-8).
public struct PlateauSettings: Equatable, Sendable {
    public enum Mode: String, Sendable { case min, max }
    public enum ThresholdMode: String, Sendable { case rel, abs }

    public var mode: Mode
    public var factor: Double
    public var patience: Int
    public var threshold: Double
    public var thresholdMode: ThresholdMode
    public var cooldown: Int
    public var minLR: Double
    public var eps: Double

    public init(mode: Mode = .min, factor: Double = 0.2, patience: Int = 5, threshold: Double = 0.01,
                thresholdMode: ThresholdMode = .rel, cooldown: Int = 0, minLR: Double = 0, eps: Double = 1e-8) {
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minLR = minLR
        self.eps = eps
    }
}
