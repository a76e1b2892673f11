import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// Adam against torch.optim.Adam (`_single_tensor_adam`) on the recorded runs.
///
/// Tolerance: 1e-6 relative, per tensor (max |gantry − torch| / max |torch|), after every one of
/// the 20 steps, for parameters and for the final exp_avg / exp_avg_sq. Float32 carries ~6e-8
/// relative precision, so 1e-6 allows a few rounding differences to accumulate over 20 steps
/// but catches any formula error (a wrong bias correction alone is ~1e-3 relative). The only
/// known source of difference is PyTorch's sqrt (MKL vector math, within 1 ulp but not correctly
/// rounded); without weight decay the moments do not depend on it and must match bit for bit.
struct OptimizerTests {
    static let tolerance = 1e-6

    @Test(arguments: ["reference", "custom"])
    func adamMatchesTorch(_ runName: String) throws {
        let run = TrainingFixtures.run(runName)
        let adam = try makeAdam(run)
        var worst = 0.0
        for step in 1...run.steps {
            try applyStep(step, of: run, to: adam)
            for (name, v) in adam.parameters {
                let expected = try #require(TrainingFixtures.tensor("\(run.name)/param/\(step)/\(name)"))
                let error = relativeError(v.data.values, expected.values)
                worst = max(worst, error)
                #expect(error <= Self.tolerance, "\(runName) step \(step) \(name): relative error \(error)")
            }
        }
        for (name, _) in adam.parameters {
            let state = try #require(adam.state(of: name))
            #expect(state.step == run.final_step[name], "\(name) step count")
            for (which, values) in [("exp_avg", state.expAvg), ("exp_avg_sq", state.expAvgSq)] {
                let expected = try #require(TrainingFixtures.tensor("\(run.name)/\(which)/\(name)"))
                let error = relativeError(values, expected.values)
                worst = max(worst, error)
                #expect(error <= Self.tolerance, "\(runName) \(which) \(name): relative error \(error)")
                if run.weight_decay == 0 { #expect(bits(values) == bits(expected.values), "\(runName) \(which) \(name) bit for bit") }
            }
        }
        print("Adam '\(runName)' vs torch: max relative error \(worst) over \(run.steps) steps")
    }

    @Test func updatesParametersInPlaceAndBumpsTheirVersion() throws {
        let weight = randomTensor([3, 4], seed: 1)
        let v = Variable(weight, requiresGrad: true)
        let adam = try Adam([v])
        let before = weight.storage.version
        v.grad = randomTensor([3, 4], seed: 2)
        try adam.step()
        #expect(v.data.storage === weight.storage)
        #expect(weight.storage.version > before)
        // The first step moves every entry by about lr (|m̂ / sqrt(v̂)| = 1).
        for (a, b) in zip(weight.values, randomTensor([3, 4], seed: 1).values) { #expect(abs(abs(a - b) - 2e-4) < 1e-6) }
    }

    @Test func skipsParametersWithoutGradient() throws {
        let a = Variable(randomTensor([5], seed: 3), requiresGrad: true)
        let b = Variable(randomTensor([2, 2], seed: 4), requiresGrad: true)
        let adam = try Adam(parameters: [("a", a), ("b", b)])
        let bBefore = b.data.values, bVersion = b.data.storage.version
        for k in 0..<3 {
            a.grad = randomTensor([5], seed: 10 + UInt64(k))
            try adam.step()
        }
        #expect(bits(b.data.values) == bits(bBefore))
        #expect(b.data.storage.version == bVersion)
        #expect(adam.state(of: "b") == nil)
        #expect(adam.state(of: "a")?.step == 3)

        // Once it has a gradient it starts at step 1, while the other keeps counting.
        b.grad = randomTensor([2, 2], seed: 20)
        a.grad = nil
        try adam.step()
        #expect(adam.state(of: "b")?.step == 1)
        #expect(adam.state(of: "a")?.step == 3)
        #expect(bits(b.data.values) != bits(bBefore))
    }

    @Test func zeroGradForgetsEveryGradient() throws {
        let vs = (0..<3).map { Variable(randomTensor([2], seed: UInt64($0)), requiresGrad: true) }
        for v in vs { v.grad = randomTensor([2], seed: 9) }
        let adam = try Adam(vs)
        adam.zeroGrad()
        #expect(vs.allSatisfy { $0.grad == nil })
        #expect(adam.parameters.map(\.name) == ["0", "1", "2"])
    }

    @Test func gradientOfTheWrongShapeThrowsBeforeAnyUpdate() throws {
        let a = Variable(randomTensor([4], seed: 5), requiresGrad: true)
        let b = Variable(randomTensor([2, 3], seed: 6), requiresGrad: true)
        let adam = try Adam(parameters: [("a", a), ("b", b)])
        a.grad = randomTensor([4], seed: 7)
        b.grad = randomTensor([3, 2], seed: 8)
        let before = a.data.values
        let error = try #require(throws: TrainingError.self) { try adam.step() }
        #expect(error.code == .shapeMismatch)
        #expect(error.message.contains("'b'") && error.message.contains("[3, 2]"))
        #expect(bits(a.data.values) == bits(before))
        #expect(adam.state(of: "a") == nil)
    }

    @Test func refusesInvalidSettings() throws {
        let v = Variable(randomTensor([2], seed: 1), requiresGrad: true)
        #expect(throws: TrainingError.self) { try Adam([v], lr: -1) }
        #expect(throws: TrainingError.self) { try Adam([v], betas: (1.0, 0.999)) }
        #expect(throws: TrainingError.self) { try Adam([v], betas: (0.5, -0.1)) }
        #expect(throws: TrainingError.self) { try Adam([v], eps: -1e-8) }
        #expect(throws: TrainingError.self) { try Adam([v], weightDecay: .nan) }
        #expect(throws: TrainingError.self) { try Adam([v, v]) }
        let w = Variable(randomTensor([2], seed: 2), requiresGrad: true)
        #expect(throws: TrainingError.self) { try Adam(parameters: [("x", v), ("x", w)]) }
    }
}
