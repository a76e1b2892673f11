import Engine
import Foundation
import Models
import Runs
import TestSupport
import Testing
import Training

/// One seed, one thread count: the same run, bit for bit (init, dropout masks, the image pool,
/// oneDNN's kernels, the optimizer).
struct ReproducibilityTests {
    func pix2pixRun(seed: UInt64) throws -> [[Float]] {
        let g = try Generator(.unet(downs: 5, ngf: 4, norm: .batch, dropout: true))
        let d = try Discriminator(.nLayers(3, ndf: 4, norm: .batch, inputChannels: 6))
        let random = RandomSource(seed: seed)
        try g.root.initializeWeights(.normal, gain: 0.02, random: random)
        try d.root.initializeWeights(.normal, gain: 0.02, random: random)
        let model = Pix2PixModel(generator: g, discriminator: d,
                                 context: TrainingContext(backend: Backends.winograd, dropout: random))
        let optG = try Adam(parameters: g.root.parameters()), optD = try Adam(parameters: d.root.parameters())
        for step in 0..<3 {
            let a = randomTensor([2, 3, 32, 32], seed: UInt64(10 + step)), b = randomTensor([2, 3, 32, 32], seed: UInt64(20 + step))
            _ = try model.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD)
        }
        return (g.root.namedTensors() + d.root.namedTensors()).map { $0.value.values }
    }

    func cycleGANRun(seed: UInt64) throws -> [[Float]] {
        let nets = try (0..<2).map { _ in try Generator(.resnet(blocks: 2, ngf: 4, norm: .instance)) }
        let ds = try (0..<2).map { _ in try Discriminator(.nLayers(2, ndf: 4, norm: .instance)) }
        let random = RandomSource(seed: seed)
        for net in nets.map(\.root) + ds.map(\.root) { try net.initializeWeights(.normal, gain: 0.02, random: random) }
        let model = try CycleGANModel(generatorA: nets[0], generatorB: nets[1], discriminatorA: ds[0], discriminatorB: ds[1],
                                      poolSize: 2, random: random, context: TrainingContext(backend: Backends.winograd))
        let optG = try Adam(parameters: nets[0].root.parameters(prefix: "A.") + nets[1].root.parameters(prefix: "B."))
        let optD = try Adam(parameters: ds[0].root.parameters(prefix: "A.") + ds[1].root.parameters(prefix: "B."))
        for step in 0..<4 {
            let a = randomTensor([1, 3, 32, 32], seed: UInt64(30 + step)), b = randomTensor([1, 3, 32, 32], seed: UInt64(40 + step))
            _ = try model.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD)
        }
        return (nets.flatMap { $0.root.namedTensors() } + ds.flatMap { $0.root.namedTensors() }).map { $0.value.values }
    }

    @Test func pix2pixIsBitForBitReproducible() throws {
        let first = try pix2pixRun(seed: 7)
        #expect(try pix2pixRun(seed: 7) == first)
        #expect(try pix2pixRun(seed: 8) != first)
    }

    @Test func cycleGANIsBitForBitReproducible() throws {
        let first = try cycleGANRun(seed: 7)
        #expect(try cycleGANRun(seed: 7) == first)
        #expect(try cycleGANRun(seed: 8) != first)
    }
}
