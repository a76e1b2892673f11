import Checkpoints
import Engine
import Foundation
import Models
import Runs

/// CycleGAN as the reference's `train.py --model cyclegan` runs it: two generators and two
/// discriminators on unaligned images, with image pools of fakes for the D steps
/// (`CycleGANModel`). Grids show real_A, fake_B, rec_A, idt_B and the B row of the epoch's
/// last batch; the pools are part of the resumable state.
public final class CycleGANRecipe: Recipe {
    public let options: TrainingOptions
    public let dataset: TrainingDataset
    public let model: CycleGANModel
    public let optimizers: [RecipeOptimizer]
    let context: TrainingContext

    /// `shard`: the rank's part of each global batch in a data-parallel job (nil: one process).
    public init(_ options: TrainingOptions, backend: ConvolutionBackend, random: RandomSource, shard: BatchShard? = nil) throws {
        self.options = options
        dataset = try TrainingDataset(options)
        context = TrainingContext(backend: backend, dropout: options.noDropout ? nil : random, shard: shard)
        let g = try options.generatorArchitecture()
        var reverse = g
        (reverse.inputChannels, reverse.outputChannels) = (g.outputChannels, g.inputChannels)
        let gA = try Generator(g), gB = try Generator(reverse)
        let dA = try Discriminator(options.discriminatorArchitecture(channels: options.outputNC))
        let dB = try Discriminator(options.discriminatorArchitecture(channels: options.inputNC))
        model = try CycleGANModel(generatorA: gA, generatorB: gB, discriminatorA: dA, discriminatorB: dB,
                                  objective: options.ganMode, lambdaA: Float(options.lambdaA), lambdaB: Float(options.lambdaB),
                                  lambdaIdentity: Float(options.lambdaIdentity), poolSize: options.poolSize,
                                  penalty: GradientPenalty(lambda: Float(options.lambdaGP)), random: random, context: context)
        model.clip = Float(options.clip)
        // The reference initialises the generators before the discriminators.
        for net in [gA.root, gB.root, dA.root, dB.root] {
            try net.initializeWeights(options.initType, gain: Float(options.initGain), random: random)
        }
        optimizers = try EpochRecipes.optimizers(options, g: gA.root.parameters(prefix: "G_A.") + gB.root.parameters(prefix: "G_B."),
                                                 d: dA.root.parameters(prefix: "D_A.") + dB.root.parameters(prefix: "D_B."))
    }

    public var data: any TrainingData { dataset }
    public var length: RunLength { EpochRecipes.length(options) }
    public var cadence: Cadence { Cadence(numbered: options.saveEpochFreq) }
    public var networks: [(name: String, module: Module)] {
        [("G_A", model.generatorA.root), ("G_B", model.generatorB.root), ("D_A", model.discriminatorA.root), ("D_B", model.discriminatorB.root)]
    }
    public var generatorTerms: Set<String> { CycleGANModel.Losses.generatorTerms }

    public func step(_ batch: [Tensor], updateGenerator: Bool) throws -> [(name: String, value: Double)] {
        try model.optimize(realA: batch[0], realB: batch[1], optimizerG: optimizers[0].optimizer, optimizerD: optimizers[1].optimizer,
                           updateGenerator: updateGenerator).named.map { (name: $0.0, value: $0.1) }
    }

    public func samples(lastBatch: [Tensor]?) throws -> Data? {
        guard let (input, target, quiet) = try EpochRecipes.firstPair(lastBatch, context) else { return nil }
        let (gA, gB) = (model.generatorA, model.generatorB)
        let fakeB = try gA.forward(Variable(input), context: quiet).data, fakeA = try gB.forward(Variable(target), context: quiet).data
        return try SampleGrid.png([
            [input, fakeB, try gB.forward(Variable(fakeB), context: quiet).data, try gB.forward(Variable(input), context: quiet).data],
            [target, fakeA, try gA.forward(Variable(fakeA), context: quiet).data, try gA.forward(Variable(target), context: quiet).data],
        ])
    }

    var pools: [(name: String, pool: ImagePool)] { [("fake_A", model.fakeAPool), ("fake_B", model.fakeBPool)] }

    /// The image pools: `<pool>/<slot>` → 1×C×H×W.
    public func extraState() throws -> StateDict? {
        guard options.poolSize > 0 else { return nil }
        var sd = StateDict()
        for (name, pool) in pools {
            for i in 0..<pool.count { sd["\(name)/\(i)"] = try CheckpointTensor(pool.storedImage(i)) }
        }
        return sd
    }

    public func restoreExtraState(_ sd: StateDict, path: String) throws {
        var restored: [(ImagePool, [Tensor])] = []
        for (name, pool) in pools {
            var images: [Tensor] = []
            while let t = sd["\(name)/\(images.count)"] { images.append(try Tensor(t)) }
            guard images.count <= pool.size else {
                throw TrainingError(.stateMismatch, "\(path): \(images.count) images for pool \(name) of size \(pool.size)")
            }
            restored.append((pool, images))
        }
        for (pool, images) in restored { try pool.restore(images) }
    }
}
