import Engine
import Foundation
import Models
import Runs

/// pix2pix as the reference's `train.py --model pix2pix` runs it: a conditional GAN on aligned
/// or paired images, the D step then the G step (GAN + λ·L1) per iteration (`Pix2PixModel`).
/// Grids show real_A, fake_B, real_B of the epoch's last batch. Colorization (`--model
/// colorization`) is this recipe on L → ab pairs of colour photos.
public final class Pix2PixRecipe: Recipe {
    public let options: TrainingOptions
    public let dataset: TrainingDataset
    public let model: Pix2PixModel
    public let optimizers: [RecipeOptimizer]
    let context: TrainingContext

    /// `shard`: the rank's part of each global batch in a data-parallel job (nil: one process).
    public init(_ options: TrainingOptions, backend: ConvolutionBackend, random: RandomSource, shard: BatchShard? = nil) throws {
        self.options = options
        dataset = try TrainingDataset(options)
        context = TrainingContext(backend: backend, dropout: options.noDropout ? nil : random, shard: shard)
        let g = try Generator(options.generatorArchitecture())
        let d = try Discriminator(options.discriminatorArchitecture(channels: options.inputNC + options.outputNC))
        // The reference initialises G before D, each with init_weights, from one generator here.
        try g.root.initializeWeights(options.initType, gain: Float(options.initGain), random: random)
        try d.root.initializeWeights(options.initType, gain: Float(options.initGain), random: random)
        model = Pix2PixModel(generator: g, discriminator: d, objective: options.ganMode, lambdaL1: Float(options.lambdaL1),
                             penalty: GradientPenalty(lambda: Float(options.lambdaGP)), random: random, context: context)
        model.clip = Float(options.clip)
        optimizers = try EpochRecipes.optimizers(options, g: g.root.parameters(prefix: "G."), d: d.root.parameters(prefix: "D."))
    }

    public var data: any TrainingData { dataset }
    public var length: RunLength { EpochRecipes.length(options) }
    public var cadence: Cadence { Cadence(numbered: options.saveEpochFreq) }
    public var networks: [(name: String, module: Module)] { [("G", model.generator.root), ("D", model.discriminator.root)] }
    public var generatorTerms: Set<String> { Pix2PixModel.Losses.generatorTerms }

    public func step(_ batch: [Tensor], updateGenerator: Bool) throws -> [(name: String, value: Double)] {
        try model.optimize(realA: batch[0], realB: batch[1], optimizerG: optimizers[0].optimizer, optimizerD: optimizers[1].optimizer,
                           updateGenerator: updateGenerator).named.map { (name: $0.0, value: $0.1) }
    }

    /// The batch's first pair, drawn with the networks as they are now, BatchNorm's buffers
    /// untouched. Colorization shows the reference's visuals: L, real L with the predicted ab,
    /// the photo.
    public func samples(lastBatch: [Tensor]?) throws -> Data? {
        guard let (input, target, quiet) = try EpochRecipes.firstPair(lastBatch, context) else { return nil }
        let fake = try model.generator.forward(Variable(input), context: quiet).data
        guard options.model == .colorization else { return try SampleGrid.png([[input, fake, target]]) }
        let (_, _, h, w) = input.nchw
        func rgb(_ ab: Tensor) throws -> Tensor { try Tensor.normalizedRGB(try Tensor.labToRGB(l: input, ab: ab), width: w, height: h) }
        return try SampleGrid.png([[input, try rgb(fake), try rgb(target)]])
    }
}

/// What pix2pix and CycleGAN share: the reference's epochs, optimizers and schedules.
enum EpochRecipes {
    /// `epoch_count` … `n_epochs + n_epochs_decay`.
    static func length(_ o: TrainingOptions) -> RunLength { .epochs(o.epochCount...max(o.epochCount, o.nEpochs + o.nEpochsDecay)) }

    /// G's and D's optimizers, each with its own scheduler of `--lr-policy`.
    static func optimizers(_ o: TrainingOptions, g: [(name: String, variable: Variable)],
                           d: [(name: String, variable: Variable)]) throws -> [RecipeOptimizer] {
        try [("G", g), ("D", d)].map {
            RecipeOptimizer($0.0, try optimizer($0.1, o), schedule: try LearningRateScheduler(policy: o.learningRatePolicy, baseLR: o.lr))
        }
    }

    /// `--optimizer` (auto: RMSprop for WGAN, as its paper; Adam with β₂ 0.999 otherwise, as the reference).
    static func optimizer(_ parameters: [(name: String, variable: Variable)], _ o: TrainingOptions) throws -> any Optimizer {
        switch o.resolvedOptimizer {
        case .rmsprop: try RMSprop(parameters: parameters, lr: o.lr)
        case .adam, .auto: try Adam(parameters: parameters, lr: o.lr, betas: (o.beta1, 0.999))
        }
    }

    /// The first pair of a batch [A, B] (1×C×H×W each) and a context that draws with the networks
    /// as they are, BatchNorm's buffers untouched; nil before the first batch.
    static func firstPair(_ batch: [Tensor]?, _ context: TrainingContext) throws -> (Tensor, Tensor, TrainingContext)? {
        guard let batch else { return nil }
        return (try batch[0].image(0), try batch[1].image(0), TrainingContext(backend: context.backend, updatesRunningStatistics: false))
    }
}
