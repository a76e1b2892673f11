import Engine
import Foundation
import Models
import Testing
import TestSupport

/// The differentiable forward of training against the inference forward and PyTorch's
/// training-mode normalisation rules.
struct TrainingForwardTests {
    static let architectures: [GeneratorArchitecture] = [
        .resnet(blocks: 2, ngf: 4, norm: .instance), .resnet(blocks: 1, ngf: 4, norm: .batch),
        .unet(downs: 5, ngf: 4, norm: .batch, dropout: false), .stargan(conditions: 2, convDim: 4, repeats: 1),
    ]

    /// Same kernels, same statistics: the two forwards agree to float summation order.
    @Test(arguments: architectures)
    func trainingForwardEqualsInference(_ a: GeneratorArchitecture) throws {
        let g = try Generator(a)
        try g.initializeRandomly(seed: 5, gain: 0.3)
        let x = randomTensor([2, 3, 32, 32], seed: 6)
        let condition = a.family == .stargan ? try Tensor(shape: [2, 2], values: [1, 0, 0, 1]) : nil
        let inference = try g.forward(x, condition: condition, context: ForwardContext(backend: Backends.direct))
        let training = try g.forward(Variable(x), condition: condition,
                                     context: TrainingContext(backend: Backends.direct, updatesRunningStatistics: false))
        #expect(training.data.maxAbsDifference(inference) <= 1e-5)
        #expect(training.requiresGrad, "parameters require gradients by default, as in PyTorch")
        let keys = g.parameters.map(\.name)
        #expect(keys == g.root.namedTensors().filter { !$0.isBuffer }.map(\.key))
        #expect(keys.count > 0)
    }

    /// BatchNorm2d.train(): normalise with the batch's biased variance, fold mean and unbiased
    /// variance into the running buffers with momentum 0.1, count the batch.
    @Test func batchNormUpdatesRunningStatisticsLikePyTorch() throws {
        let norm = try Norm2d(.batch, channels: 2)
        let x = randomTensor([3, 2, 2, 5], seed: 7, scale: 3)
        _ = try norm.forward(Variable(x), TrainingContext(backend: Backends.reference))
        _ = try norm.forward(Variable(x), TrainingContext(backend: Backends.reference))
        let t = Dictionary(uniqueKeysWithValues: norm.namedTensors().map { ($0.key, $0.value.values) })
        for c in 0..<2 {
            var v: [Double] = []
            for b in 0..<3 { for i in 0..<10 { v.append(Double(x.values[(b * 2 + c) * 10 + i])) } }
            let mean = v.reduce(0, +) / 30
            let unbiased = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 29
            // Two updates from (0, 1): m ← 0.9·m + 0.1·μ twice.
            #expect(abs(Double(t["running_mean"]![c]) - 0.19 * mean) < 1e-6)
            #expect(abs(Double(t["running_var"]![c]) - (0.81 + 0.19 * unbiased)) < 1e-5)
        }
        #expect(t["num_batches_tracked"] == [2])
    }

    /// InstanceNorm2d(track_running_stats=True) in training (StarGAN's generator): per-image
    /// statistics, running buffers moved by the batch average of the per-image mean and
    /// unbiased variance.
    @Test func trackedInstanceNormAveragesPerImageStatistics() throws {
        let norm = try Norm2d(.instance(affine: true, tracksRunningStats: true), channels: 1)
        let x = try Tensor(shape: [2, 1, 1, 4], values: [0, 2, 4, 6, 1, 1, 1, 5])
        let y = try norm.forward(Variable(x), TrainingContext(backend: Backends.reference))
        let t = Dictionary(uniqueKeysWithValues: norm.namedTensors().map { ($0.key, $0.value.values) })
        // Means 3 and 2; unbiased variances 20/3 and 12/3.
        #expect(abs(t["running_mean"]![0] - 0.1 * 2.5) < 1e-6)
        #expect(abs(t["running_var"]![0] - (0.9 + 0.1 * (20.0 / 3 + 4) / 2)) < 1e-6)
        #expect(abs(y.data.values[0] - Float(-3 / (5 + 1e-5).squareRoot())) < 1e-5)
    }

    @Test func freezingANetworkStopsItsGradients() throws {
        let g = try Generator(.resnet(blocks: 1, ngf: 2, norm: .instance))
        try g.initializeRandomly(seed: 8, gain: 0.3)
        let context = TrainingContext(backend: Backends.direct)
        g.root.setRequiresGrad(false)
        #expect(g.parameters.allSatisfy { !$0.variable.requiresGrad })
        g.root.setRequiresGrad(true)
        let y = try g.forward(Variable(randomTensor([1, 3, 8, 8], seed: 9)), context: context)
        try mean(y).backward()
        #expect(g.parameters.allSatisfy { $0.variable.grad?.shape == $0.variable.shape })
    }
}

/// Discriminators in training mode: the same outputs as PyTorch's train-mode forward, and
/// StarGAN's two heads differentiable through their shared trunk.
struct DiscriminatorTrainingTests {
    @Test(arguments: DiscriminatorTests.cases)
    func trainingForwardMatchesPyTorch(_ c: DiscriminatorManifest.Case) throws {
        let (d, _) = try Discriminator.load(contentsOf: c.checkpointURL)
        let io = try c.tensors()
        let input = try #require(io["input"]), expected = try #require(io["output"])
        let context = TrainingContext(backend: Backends.direct, updatesRunningStatistics: false)
        if d.architecture.family == .stargan {
            let heads = try d.starGANHeads(Variable(input), context: context)
            #expect(heads.source.data.maxAbsDifference(expected) <= DiscriminatorTests.tolerance)
            #expect(heads.classes.data.maxAbsDifference(try #require(io["classes"])) <= DiscriminatorTests.tolerance)
        } else {
            let output = try d.forward(Variable(input), context: context)
            #expect(output.data.maxAbsDifference(expected) <= DiscriminatorTests.tolerance, "\(c.name)")
        }
    }

    /// The trunk's gradient is the sum of what each head sends back (the tape accumulates a
    /// value used twice), and the input gradient agrees with finite differences. Parameters are
    /// not probed here: shifting a first-layer weight moves hundreds of LeakyReLU inputs at once,
    /// and any that cross zero within the probe spoil a finite difference (per-op checks cover them).
    @Test func starGANHeadsBackpropagateThroughTheSharedTrunk() throws {
        let d = try Discriminator(.stargan(imageSize: 16, convDim: 2, cDim: 3, repeatNum: 2))
        try d.root.initializeWeights(.normal, gain: 0.15, seed: 4)
        let context = TrainingContext(backend: Backends.direct)
        let params = d.root.parameters().map(\.variable)
        let x = randomVariable([2, 3, 16, 16], seed: 5)
        let rs = randomTensor([2, 1, 4, 4], seed: 6), rc = randomTensor([2, 3], seed: 7)
        func gradients(source: Bool, classes: Bool) throws -> [[Float]] {
            for p in params + [x] { p.zeroGrad() }
            let (s, c) = try d.starGANHeads(x, context: context)
            let zs = try Tensor(zeros: rs.shape), zc = try Tensor(zeros: rc.shape)
            let seed = try concatChannels([reshape(s, to: [2, 16, 1, 1]), reshape(c, to: [2, 3, 1, 1])])
            let g = try concatChannels([Tensor(reshaping: source ? rs : zs, to: [2, 16, 1, 1]),
                                        Tensor(reshaping: classes ? rc : zc, to: [2, 3, 1, 1])])
            try seed.backward(g)
            return (params + [x]).map { $0.grad!.values }
        }
        let both = try gradients(source: true, classes: true)
        let sum = zip(try gradients(source: true, classes: false), try gradients(source: false, classes: true)).map { zip($0, $1).map(+) }
        for (b, s) in zip(both, sum) { #expect(relativeL2(b, s) < 1e-6) }
        for p in params { p.requiresGrad = false }
        defer { for p in params { p.requiresGrad = true } }
        let error = try finiteDifferenceError([x], step: 3e-3) { v in
            let (source, classes) = try d.starGANHeads(v[0], context: TrainingContext(backend: Backends.reference))
            return try concatChannels([reshape(source, to: [2, 16, 1, 1]), reshape(classes, to: [2, 3, 1, 1])])
        }
        #expect(error <= 2e-3)
    }
}
