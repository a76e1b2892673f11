@testable import Engine
import Foundation
import Models
import Runs
import TestSupport
import Testing
import Training

/// WGAN-GP's penalty against `torch.autograd.grad(..., create_graph=True)` on four critics
/// (PatchGAN without normalisation, with BatchNorm in training mode and with InstanceNorm;
/// StarGAN's) from tools/fixtures/make_penalty_fixtures.py: the penalty, the input gradient it
/// is built on, and every critic parameter's gradient of it, against a float64 PyTorch run. Tolerances as the
/// first training step's (relative L2 ≤ 1e-4 with direct convolutions; the float32 PyTorch run
/// sits within `noise.*` ≤ 6.4e-6 of float64).
struct GradientPenaltyTests {
    nonisolated(unsafe) static let fixture = try! TrainingFixture("penalty")

    static let critics: [(name: String, architecture: DiscriminatorArchitecture, epsilon: Float)] = [
        ("patch", .nLayers(2, ndf: 4, norm: .none, inputChannels: 6), 1e-16),
        ("stargan", .stargan(imageSize: 32, convDim: 4, cDim: 3, repeatNum: 3), 0),
        ("patch_batch", .nLayers(2, ndf: 4, norm: .batch, inputChannels: 6), 1e-16),
        ("patch_instance", .nLayers(2, ndf: 4, norm: .instance, inputChannels: 3), 1e-16),
    ]

    @Test(arguments: [0, 1, 2, 3], [Backends.direct, Backends.reference] as [any ConvolutionBackend])
    func matchesPyTorch(_ index: Int, backend: any ConvolutionBackend) throws {
        let (name, architecture, epsilon) = Self.critics[index]
        let f = Self.fixture
        let critic = try Discriminator(architecture)
        #expect(f.load(critic.root, prefix: "\(name).init") == critic.root.namedTensors().count)
        let context = TrainingContext(backend: backend)
        let penalty = try GradientPenalty(lambda: 10, epsilon: epsilon)(
            critic: { try critic.forward($0, context: context) }, real: f["\(name).real"], fake: f["\(name).fake"],
            alpha: f["\(name).alpha"].values)
        let truth = f.scalar("\(name).penalty64")
        print("\(name) penalty \(penalty.scalar) vs \(truth)")
        #expect(abs(penalty.scalar - truth) <= 1e-5 * max(1, abs(truth)))
        try penalty.backward()
        let params = critic.root.parameters()
        let scale = params.map { l2(f["\(name).g64.\($0.name)"].values) }.max() ?? 1
        var worst = 0.0
        for p in params {
            let expected = f["\(name).g64.\(p.name)"]
            let ours = try p.variable.grad ?? Tensor(zeros: expected.shape)
            let c = GradientComparison(key: p.name, ours: ours, truth: expected, networkScale: scale)
            if !c.structurallyZero { worst = max(worst, c.relativeError) }
            #expect(c.relativeError <= (c.structurallyZero ? 1e-6 : 1e-4), "\(name) \(c)")
        }
        print("\(name): worst parameter gradient rel L2 \(worst)")
    }

    /// The first-order gradient the penalty is built on, ∇ₓ̂ D(x̂), equals PyTorch's.
    @Test(arguments: [0, 1, 2, 3])
    func inputGradientMatchesPyTorch(_ index: Int) throws {
        let (name, architecture, _) = Self.critics[index]
        let f = Self.fixture
        let critic = try Discriminator(architecture)
        f.load(critic.root, prefix: "\(name).init")
        let context = TrainingContext(backend: Backends.direct)
        let alpha = f["\(name).alpha"].values, real = f["\(name).real"].values, fake = f["\(name).fake"].values
        let per = real.count / alpha.count
        let mixed = (0..<real.count).map { alpha[$0 / per] * real[$0] + (1 - alpha[$0 / per]) * fake[$0] }
        let x = Variable(try Tensor(shape: f["\(name).real"].shape, values: mixed), requiresGrad: true)
        let out = try SecondOrder.recording { try critic.forward(x, context: context) }
        let g = try gradients(of: out, wrt: [x])[0]
        #expect(relativeL2(g.data.values, f["\(name).input_grad64"].values) <= 1e-5)
        // The same as the ordinary first-order backward.
        try out.backward(try Tensor(shape: out.shape, repeating: 1))
        #expect(relativeL2(x.grad!.values, g.data.values) <= 1e-6)
    }

    /// Ops without a differentiable backward refuse by name instead of giving a wrong gradient.
    @Test func opsWithoutATwinAreRefusedByName() throws {
        let critic = try Discriminator(.nLayers(1, ndf: 4, norm: .none, inputChannels: 6))
        let context = TrainingContext(backend: Backends.direct)
        let real = randomTensor([1, 3, 16, 16], seed: 1), fake = randomTensor([1, 3, 16, 16], seed: 2)
        #expect {
            _ = try GradientPenalty()(critic: { try critic.forward(concatChannels([$0, $0]), context: context) },
                                      real: real, fake: fake, alpha: [0.5])
        } throws: { "\($0)".contains("through cat") }
    }

    /// Outside `SecondOrder.recording` nothing is recorded for a second pass (ordinary training
    /// keeps no more than before), and asking for one says so.
    @Test func forwardOutsideRecordingIsRefused() throws {
        let critic = try Discriminator(.nLayers(1, ndf: 4, norm: .none, inputChannels: 3))
        let x = Variable(randomTensor([1, 3, 16, 16], seed: 3), requiresGrad: true)
        let out = try critic.forward(x, context: TrainingContext(backend: Backends.direct))
        #expect(throws: EngineError.self) { _ = try gradients(of: out, wrt: [x]) }
    }
}
