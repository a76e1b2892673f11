import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// Each GAN objective's loss value and gradient against its formula on a small prediction map.
struct ObjectiveTests {
    static let logits: [Float] = [-2, -0.5, 0.25, 1.5]

    func evaluate(_ objective: GANObjective, real: Bool, forGenerator: Bool = false) throws -> (value: Double, grad: [Float]) {
        let x = Variable(try Tensor(shape: [1, 1, 2, 2], values: Self.logits), requiresGrad: true)
        let loss = try objective.loss(x, real: real, forGenerator: forGenerator)
        try loss.backward()
        return (loss.scalar, x.grad!.values)
    }

    func expect(_ got: (value: Double, grad: [Float]), value: (Double) -> Double, derivative: (Double) -> Double) {
        let xs = Self.logits.map(Double.init)
        #expect(abs(got.value - xs.map(value).reduce(0, +) / 4) < 1e-6)
        for (g, x) in zip(got.grad, xs) { #expect(abs(Double(g) - derivative(x) / 4) < 1e-6) }
    }

    @Test func vanillaIsBCEWithLogits() throws {
        let sigmoid = { (x: Double) in 1 / (1 + exp(-x)) }
        expect(try evaluate(.vanilla, real: true), value: { -log(sigmoid($0)) }, derivative: { sigmoid($0) - 1 })
        expect(try evaluate(.vanilla, real: false), value: { -log(1 - sigmoid($0)) }, derivative: { sigmoid($0) })
    }

    @Test func lsganIsMSE() throws {
        expect(try evaluate(.lsgan, real: true), value: { ($0 - 1) * ($0 - 1) }, derivative: { 2 * ($0 - 1) })
        expect(try evaluate(.lsgan, real: false), value: { $0 * $0 }, derivative: { 2 * $0 })
    }

    /// The reference's `wgangp` mode: −mean for real, +mean for fake, for both players.
    @Test func wganTermsAreSignedMeans() throws {
        expect(try evaluate(.wgangp, real: true), value: { -$0 }, derivative: { _ in -1 })
        expect(try evaluate(.wgangp, real: false), value: { $0 }, derivative: { _ in 1 })
        expect(try evaluate(.wgangp, real: true, forGenerator: true), value: { -$0 }, derivative: { _ in -1 })
    }

    /// Hinge: D's terms are margins, G's is −mean(D(fake)).
    @Test func hingeHasMarginsForDAndAMeanForG() throws {
        expect(try evaluate(.hinge, real: true), value: { max(0, 1 - $0) }, derivative: { 1 - $0 > 0 ? -1 : 0 })
        expect(try evaluate(.hinge, real: false), value: { max(0, 1 + $0) }, derivative: { 1 + $0 > 0 ? 1 : 0 })
        expect(try evaluate(.hinge, real: true, forGenerator: true), value: { -$0 }, derivative: { _ in -1 })
    }

    /// Every objective's three terms against PyTorch on fixed logits (tools/fixtures/
    /// make_objective_fixtures.py, float64 autograd; the f-GAN terms there are the paper's g_f
    /// and f* composed literally). Tolerance: float32 logits and gradients, 1e-6 relative to the
    /// term's scale.
    @Test(arguments: GANObjective.allCases)
    func matchesPyTorch(_ objective: GANObjective) throws {
        struct Term: Decodable { let value: Double; let grad: [Double] }
        struct File: Decodable { let logits: [Float]; let shape: [Int]; let objectives: [String: [String: Term]] }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: fixturesDirectory.appendingPathComponent("training/objectives.json")))
        let terms = try #require(file.objectives[objective.rawValue], "no fixture for \(objective.rawValue)")
        for (name, real, forGenerator) in [("d_real", true, false), ("d_fake", false, false), ("g", true, true)] {
            let truth = try #require(terms[name])
            let x = Variable(try Tensor(shape: file.shape, values: file.logits), requiresGrad: true)
            let loss = try objective.loss(x, real: real, forGenerator: forGenerator)
            try loss.backward()
            let scale = max(1, abs(truth.value))
            #expect(abs(loss.scalar - truth.value) <= 1e-6 * scale, "\(objective.rawValue) \(name): \(loss.scalar) vs \(truth.value)")
            let gradScale = max(1e-3, truth.grad.map(abs).max()!)
            for (g, t) in zip(x.grad!.values, truth.grad) {
                #expect(abs(Double(g) - t) <= 1e-6 * gradScale * 10, "\(objective.rawValue) \(name) gradient: \(g) vs \(t)")
            }
        }
    }

    /// Every objective has a fixture and a spelling `--gan-mode` accepts.
    @Test func everyObjectiveIsNamedForTheCommandLine() throws {
        var o = TrainingOptions.defaults(for: .pix2pix)
        for objective in GANObjective.allCases {
            try o.set("gan-mode", to: objective.rawValue)
            #expect(o.ganMode == objective)
        }
    }
}
