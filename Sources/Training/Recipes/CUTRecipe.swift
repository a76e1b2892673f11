import Engine
import Foundation
import Models
import Runs

/// CUT and FastCUT as the CUT repository's `train.py --model cut --CUT_mode CUT|FastCUT` runs
/// them (`CUTModel`): one generator and one discriminator on unaligned folders, and PatchSampleF,
/// saved as `latest_net_G/F/D.pth` in the repository's own keys. Grids show real_A, fake_B,
/// real_B and (CUT) idt_B of the epoch's last batch.
public final class CUTRecipe: Recipe {
    public let options: TrainingOptions
    public let dataset: TrainingDataset
    public let model: CUTModel
    public let optimizers: [RecipeOptimizer]
    let context: TrainingContext

    /// `shard`: the rank's part of each global batch in a data-parallel job (nil: one process).
    public init(_ options: TrainingOptions, backend: ConvolutionBackend, random: RandomSource, shard: BatchShard? = nil) throws {
        self.options = options
        dataset = try TrainingDataset(options)
        guard dataset.layout == .unaligned else {
            throw TrainingError(.invalidSetting, "\(options.data): \(options.model.rawValue) trains on unpaired images in trainA/ and trainB/; this folder is laid out \(dataset.layout.rawValue)")
        }
        context = TrainingContext(backend: backend, dropout: options.noDropout ? nil : random, shard: shard)
        let g = try Generator(options.generatorArchitecture())
        let d = try Discriminator(options.discriminatorArchitecture(channels: options.outputNC))
        // CUT sizes F's heads from the features of its first batch; they depend only on G.
        let probe = try g.features(Variable(Tensor(zeros: [1, options.inputNC, 32, 32])), layers: options.nceLayers,
                                   context: TrainingContext(backend: backend, updatesRunningStatistics: false))
        let f = try PatchSampleF(channels: probe.map { $0.shape[1] }, width: options.netFNC)
        model = CUTModel(generator: g, discriminator: d, sampler: f, objective: options.ganMode, lambdaGAN: Float(options.lambdaGAN),
                         lambdaNCE: Float(options.lambdaNCE), nceIdentity: options.nceIdt, layers: options.nceLayers,
                         patches: options.numPatches, temperature: Float(options.nceT), flipEquivariance: options.flipEquivariance,
                         random: random, context: context)
        // CUT initialises G, then D, then F on its first batch (init_net with the same type and gain).
        for net in [g.root, d.root, f.root] {
            try net.initializeWeights(options.initType, gain: Float(options.initGain), random: random)
        }
        optimizers = try EpochRecipes.optimizers(options, g: g.root.parameters(), d: d.root.parameters())
            + [RecipeOptimizer("F", try EpochRecipes.optimizer(f.root.parameters(), options),
                               schedule: try LearningRateScheduler(policy: options.learningRatePolicy, baseLR: options.lr))]
    }

    public var data: any TrainingData { dataset }
    public var length: RunLength { EpochRecipes.length(options) }
    public var cadence: Cadence { Cadence(numbered: options.saveEpochFreq) }
    /// CUT's `model_names` order: G, F, D.
    public var networks: [(name: String, module: Module)] {
        [("G", model.generator.root), ("F", model.sampler.root), ("D", model.discriminator.root)]
    }
    public var generatorTerms: Set<String> { ["G_GAN", "G", "NCE", "NCE_Y"] }

    public func step(_ batch: [Tensor], updateGenerator: Bool) throws -> [(name: String, value: Double)] {
        try model.optimize(realA: batch[0], realB: batch[1], optimizerG: optimizers[0].optimizer, optimizerD: optimizers[1].optimizer,
                           optimizerF: optimizers[2].optimizer).named.map { (name: $0.0, value: $0.1) }
    }

    public func samples(lastBatch: [Tensor]?) throws -> Data? {
        guard let (input, target, quiet) = try EpochRecipes.firstPair(lastBatch, context) else { return nil }
        let g = model.generator
        var row = [input, try g.forward(Variable(input), context: quiet).data]
        // A grid's tiles share one size: B joins the row when it has A's (always, once cropped).
        if target.shape == input.shape {
            row.append(target)
            if options.nceIdt { row.append(try g.forward(Variable(target), context: quiet).data) }
        }
        return try SampleGrid.png([row])
    }
}
