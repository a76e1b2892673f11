import Foundation
import Runs
import TestSupport
import Testing
import Training

/// The reference's lr policies against PyTorch's schedulers, as recorded by the fixture script.
///
/// Tolerance: 1e-9 relative (|gantry − torch| ≤ 1e-9 · |torch|, or ≤ 1e-9 · base lr where torch
/// gives exactly 0). Both sides compute in Double with the same formulas and the same libm, so
/// the recorded sequences are in fact reproduced exactly; 1e-9 leaves room for a different libm.
struct SchedulerTests {
    @Test func everyPolicyMatchesTorch() throws {
        var worst = 0.0, compared = 0
        for c in TrainingFixtures.schedulers.cases {
            let scheduler = try LearningRateScheduler(policy: c.policy, baseLR: c.base_lr)
            var got = [scheduler.lr]
            for k in 0..<c.steps {
                try scheduler.step(metric: c.metrics?[k])
                got.append(scheduler.lr)
            }
            #expect(got.count == c.lrs.count)
            for (epoch, (a, b)) in zip(got, c.lrs).enumerated() {
                let error = abs(a - b) / (b == 0 ? c.base_lr : abs(b))
                worst = max(worst, error)
                compared += 1
                #expect(error <= 1e-9, "\(c.name): lr after \(epoch) steps is \(a), torch \(b)")
            }
        }
        #expect(compared > 600)
        print("schedulers vs torch: \(compared) learning rates, max relative error \(worst)")
    }

    /// The closed forms (base·γ^⌊e/k⌋, the cosine formula of e) agree with PyTorch's recursive
    /// `get_lr` only to ~1e-16 and differ in the last bits at most epochs of step_4, cosine_6,
    /// cosine_7_eta_min and cosine_defaults, so only bit equality tells them apart. Both sides
    /// evaluate the same Double expressions in the same order with the platform libm's cos
    /// (glibc for the committed fixtures).
    @Test(arguments: ["step_4", "cosine_defaults", "cosine_6", "cosine_7_eta_min", "plateau_varying", "linear_5_7_from3"])
    func chainableFormulasReproduceTorchBitForBit(_ name: String) throws {
        let c = try #require(TrainingFixtures.schedulers.cases.first { $0.name == name })
        let scheduler = try LearningRateScheduler(policy: c.policy, baseLR: c.base_lr)
        var got = [scheduler.lr.bitPattern]
        for k in 0..<c.steps {
            try scheduler.step(metric: c.metrics?[k])
            got.append(scheduler.lr.bitPattern)
        }
        #expect(got == c.lrs.map(\.bitPattern))
    }

    @Test func cosinePeriodicBranchIsExercised() throws {
        // T_max 6: 0 at epoch 6, then the periodic branch at epoch 7 starts climbing back.
        let c = try #require(TrainingFixtures.schedulers.cases.first { $0.name == "cosine_6" })
        #expect(c.lrs[6] == 0)
        #expect(c.lrs[7] > 0 && c.lrs[12] > 1.9e-4)
    }

    @Test func linearPolicyFollowsTheReferenceSchedule() throws {
        // --n_epochs 100 --n_epochs_decay 100: epochs 1–100 at 2e-4, then down by 2e-4/101 a step.
        let s = try LearningRateScheduler(policy: .linear(nEpochs: 100, nEpochsDecay: 100, epochCount: 1), baseLR: 2e-4)
        for _ in 0..<99 { try s.step() }
        #expect(s.lr == 2e-4)
        try s.step()
        #expect(abs(s.lr - 2e-4 * 100 / 101) < 1e-15)
        #expect(s.lastEpoch == 100)
    }

    @Test func plateauNeedsAMetric() throws {
        let s = try LearningRateScheduler(policy: .plateau, baseLR: 2e-4)
        let error = try #require(throws: TrainingError.self) { try s.step() }
        #expect(error.message.contains("metric"))
        #expect(s.lastEpoch == 0)
        // The other policies ignore one.
        let step = try LearningRateScheduler(policy: .step(decayEvery: 1), baseLR: 1)
        try step.step(metric: 5)
        #expect(abs(step.lr - 0.1) < 1e-15)
    }

    @Test func refusesSettingsTorchWouldRefuseOrDivideByZeroOn() {
        #expect(throws: TrainingError.self) { try LearningRateScheduler(policy: .step(decayEvery: 0), baseLR: 1e-3) }
        #expect(throws: TrainingError.self) { try LearningRateScheduler(policy: .cosine(tMax: 0), baseLR: 1e-3) }
        #expect(throws: TrainingError.self) {
            try LearningRateScheduler(policy: .linear(nEpochs: 5, nEpochsDecay: -1, epochCount: 1), baseLR: 1e-3)
        }
        #expect(throws: TrainingError.self) { try LearningRateScheduler(policy: .plateau(PlateauSettings(factor: 1)), baseLR: 1e-3) }
        #expect(throws: TrainingError.self) { try LearningRateScheduler(policy: .plateau, baseLR: .nan) }
    }

    /// Replaying n units (a continued run whose state has no schedules, or another policy) ends
    /// where n steps end, bit for bit, whether the policy jumps (linear, StarGAN's) or steps.
    @Test func replayEqualsSteppingOneByOne() throws {
        let policies: [LearningRatePolicy] = [.linear(nEpochs: 5, nEpochsDecay: 7, epochCount: 1),
                                              .starGAN(numIters: 5000, numItersDecay: 3000, updateEvery: 100),
                                              .step(decayEvery: 3), .cosine(tMax: 4), .plateau]
        for policy in policies {
            for n in [0, 1, 6, 13, 2900] {
                let stepped = try LearningRateScheduler(policy: policy, baseLR: 2e-4)
                for _ in 0..<n { try stepped.step(metric: 0) }
                let replayed = try LearningRateScheduler(policy: policy, baseLR: 2e-4)
                try replayed.replay(n)
                #expect(replayed.lr.bitPattern == stepped.lr.bitPattern && replayed.lastEpoch == stepped.lastEpoch, "\(policy) after \(n)")
            }
        }
    }
}
