import Foundation
import Runs

/// A PyTorch learning-rate scheduler for one policy: `init` is the scheduler's construction
/// (including PyTorch's initial step) and `step(metric:)` is `scheduler.step()`.
///
/// It holds what PyTorch's group["lr"] holds, `lr`; set the optimizers' `lr` from it after each
/// step. `step` and `cosine` are recursive in the current lr (PyTorch's chainable `get_lr`, not
/// the closed form), so their results equal PyTorch's to the last bit, not just approximately.
public final class LearningRateScheduler {
    public let policy: LearningRatePolicy
    /// The optimizer's lr when the scheduler was made (PyTorch's `base_lrs[0]`, `initial_lr`).
    public let baseLR: Double
    /// PyTorch's `last_epoch`: 0 after construction, +1 per step.
    public internal(set) var lastEpoch: Int = 0
    /// The learning rate to use now (PyTorch's `param_groups[0]["lr"]`).
    public internal(set) var lr: Double
    /// Plateau: best metric so far (±inf before the first step).
    public internal(set) var best: Double
    /// Plateau: epochs since the metric last improved by more than the threshold.
    public internal(set) var numBadEpochs: Int = 0
    /// Plateau: epochs left in which bad epochs are not counted.
    public internal(set) var cooldownCounter: Int = 0

    /// - Throws: `TrainingError.invalidSetting` for settings PyTorch would refuse or divide by
    ///   zero on (factor ≥ 1, a step or period < 1, n_epochs_decay < 0, negative counts).
    public init(policy: LearningRatePolicy, baseLR: Double) throws(TrainingError) {
        try Self.validate(policy)
        guard baseLR.isFinite, baseLR >= 0 else { throw TrainingError(.invalidSetting, "invalid base learning rate \(baseLR)") }
        self.policy = policy
        self.baseLR = baseLR
        lr = baseLR
        if case .plateau(let s) = policy {
            best = s.mode == .min ? .infinity : -.infinity
        } else {
            best = 0
            // LRScheduler.__init__'s initial step: last_epoch -1 → 0. Only LambdaLR changes the
            // lr there (StepLR keeps it at epoch 0, CosineAnnealingLR in its initial mode).
            if case .linear = policy { lr = baseLR * linearFactor(epoch: 0) }
        }
    }

    /// `count` steps (plateau's with metric 0, as the reference steps it): where a continued run
    /// stands after `count` units. The closed-form policies jump there at once, so a counter read
    /// from a state file (StarGAN's iterations) cannot make the replay run for hours.
    public func replay(_ count: Int) throws(TrainingError) {
        guard count > 0 else { return }
        switch policy {
        case .linear, .starGAN:
            lastEpoch += count - 1
            try step(metric: 0)
        case .step, .cosine, .plateau:
            for _ in 0..<count { try step(metric: 0) }
        }
    }

    /// `scheduler.step()`, or `scheduler.step(metric)` for plateau.
    ///
    /// - Parameter metric: the value plateau watches (the reference passes its `self.metric`,
    ///   always 0); ignored by the other policies.
    /// - Throws: `TrainingError.invalidSetting` when plateau is stepped without a metric.
    public func step(metric: Double? = nil) throws(TrainingError) {
        switch policy {
        case .linear:
            lastEpoch += 1
            lr = baseLR * linearFactor(epoch: lastEpoch)
        case .step(let every, let gamma):
            lastEpoch += 1
            if lastEpoch != 0 && lastEpoch % every == 0 { lr = lr * gamma }
        case .cosine(let tMax, let etaMin):
            lastEpoch += 1
            let t = Double(tMax)
            if pythonModulo(lastEpoch - 1 - tMax, 2 * tMax) == 0 {
                lr = lr + (baseLR - etaMin) * (1 - cos(Double.pi / t)) / 2
            } else {
                lr = (1 + cos(Double.pi * Double(lastEpoch) / t)) / (1 + cos(Double.pi * Double(lastEpoch - 1) / t))
                    * (lr - etaMin) + etaMin
            }
        case .starGAN(let numIters, let decay, let every):
            lastEpoch += 1
            // The solver's closed form (bit for bit: one subtraction of a product from lr₀).
            guard decay > 0 else { break }
            let steps = max(0, lastEpoch / every - (numIters - decay) / every)
            lr = baseLR - Double(steps) * (baseLR / Double(decay))
        case .plateau(let s):
            guard let current = metric else {
                throw TrainingError(.invalidSetting, "the plateau learning-rate policy is stepped with a metric; none was given")
            }
            stepPlateau(current, s)
        }
    }

    private func stepPlateau(_ current: Double, _ s: PlateauSettings) {
        lastEpoch += 1
        if isBetter(current, than: best, s) {
            best = current
            numBadEpochs = 0
        } else {
            numBadEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            numBadEpochs = 0   // bad epochs in cooldown do not count
        }
        if numBadEpochs > s.patience {
            let newLR = max(lr * s.factor, s.minLR)
            // Changes smaller than eps are ignored, so a tiny lr stops shrinking.
            if lr - newLR > s.eps { lr = newLR }
            cooldownCounter = s.cooldown
            numBadEpochs = 0
        }
    }

    private func isBetter(_ a: Double, than best: Double, _ s: PlateauSettings) -> Bool {
        switch (s.mode, s.thresholdMode) {
        case (.min, .rel): a < best * (1.0 - s.threshold)
        case (.min, .abs): a < best - s.threshold
        case (.max, .rel): a > best * (s.threshold + 1.0)
        case (.max, .abs): a > best + s.threshold
        }
    }

    private func linearFactor(epoch: Int) -> Double {
        guard case .linear(let nEpochs, let nEpochsDecay, let epochCount) = policy else { return 1 }
        return 1.0 - Double(max(0, epoch + epochCount - nEpochs)) / Double(nEpochsDecay + 1)
    }

    /// Python's `%`: the result has the divisor's sign (cosine's period test sees negative epochs).
    private func pythonModulo(_ a: Int, _ b: Int) -> Int {
        let r = a % b
        return r != 0 && (r < 0) != (b < 0) ? r + b : r
    }

    private static func validate(_ policy: LearningRatePolicy) throws(TrainingError) {
        func fail(_ message: String) -> TrainingError { TrainingError(.invalidSetting, message) }
        switch policy {
        case .linear(let n, let decay, let count):
            guard n >= 0, decay >= 0, count >= 0 else {
                throw fail("linear lr policy needs n_epochs, n_epochs_decay and epoch_count ≥ 0; got \(n), \(decay), \(count)")
            }
        case .step(let every, let gamma):
            guard every >= 1 else { throw fail("step lr policy needs lr_decay_iters ≥ 1; got \(every)") }
            guard gamma.isFinite else { throw fail("step lr policy needs a finite gamma; got \(gamma)") }
        case .cosine(let tMax, let etaMin):
            guard tMax >= 1 else { throw fail("cosine lr policy needs n_epochs (T_max) ≥ 1; got \(tMax)") }
            guard etaMin.isFinite else { throw fail("cosine lr policy needs a finite eta_min; got \(etaMin)") }
        case .starGAN(let numIters, let decay, let every):
            guard numIters >= 0, decay >= 0, every >= 1 else {
                throw fail("StarGAN's lr policy needs num_iters, num_iters_decay ≥ 0 and lr_update_step ≥ 1; got \(numIters), \(decay), \(every)")
            }
        case .plateau(let s):
            guard s.factor < 1, s.factor >= 0 else { throw fail("plateau lr policy needs a factor in [0, 1); got \(s.factor)") }
            guard s.patience >= 0, s.cooldown >= 0 else {
                throw fail("plateau lr policy needs patience and cooldown ≥ 0; got \(s.patience), \(s.cooldown)")
            }
            guard s.threshold.isFinite, s.minLR.isFinite, s.minLR >= 0, s.eps.isFinite, s.eps >= 0 else {
                throw fail("plateau lr policy needs finite threshold, min_lr ≥ 0 and eps ≥ 0")
            }
        }
    }
}
