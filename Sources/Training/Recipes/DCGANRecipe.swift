import Engine
import Foundation
import Models
import Imaging
import Runs

/// DCGAN as pytorch/examples `dcgan/main.py` trains it, with any `--gan-mode`: per batch the D
/// step on real images and on G(z) (detached), then the G step through the updated D on the same
/// G(z). Images: every PNG/JPEG under `--data`, resized (bilinear, shorter side) and centre-cropped
/// to 64×64 (`ImageFolderData`). Grids: the same 64 noise vectors every epoch, 8 per row;
/// `gantry sample -m RUN` draws new images.
public final class DCGANRecipe: Recipe {
    public let options: TrainingOptions
    public let images: ImageFolderData
    public let generator: Module, discriminator: Module
    public let optimizers: [RecipeOptimizer]
    let random: RandomSource
    let context: TrainingContext
    let fixedNoise: Tensor

    /// `shard`: the rank's part of each global batch in a data-parallel job (nil: one process).
    public init(_ options: TrainingOptions, backend: ConvolutionBackend, random: RandomSource, shard: BatchShard? = nil) throws {
        self.options = options
        images = try ImageFolderData(folder: options.data, size: DCGAN.imageSize)
        self.random = random
        generator = try DCGAN.generator(nz: options.nz, ngf: options.ngf, batchNorm: options.norm == .batch)
        discriminator = try DCGAN.discriminator(ndf: options.ndf, batchNorm: options.norm == .batch)
        // The example's weights_init: conv N(0, 0.02), batch norm N(1, 0.02) and 0.
        try generator.initializeWeights(.normal, gain: 0.02, random: random)
        try discriminator.initializeWeights(.normal, gain: 0.02, random: random)
        optimizers = [RecipeOptimizer("G", try EpochRecipes.optimizer(generator.parameters(prefix: "G."), options)),
                      RecipeOptimizer("D", try EpochRecipes.optimizer(discriminator.parameters(prefix: "D."), options))]
        context = TrainingContext(backend: backend, shard: shard)
        fixedNoise = try DCGAN.noise(count: 64, nz: options.nz, random: RandomSource(seed: options.seed ^ 0x6669_7865_64))
    }

    public var data: any TrainingData { images }
    public var length: RunLength { .epochs(options.epochCount...max(options.epochCount, options.nEpochs)) }
    public var cadence: Cadence { Cadence(numbered: options.saveEpochFreq) }
    public var networks: [(name: String, module: Module)] { [("G", generator), ("D", discriminator)] }
    public var generatorTerms: Set<String> { ["Loss_G"] }

    public func step(_ batch: [Tensor], updateGenerator: Bool) throws -> [(name: String, value: Double)] {
        let real = batch[0], count = real.shape[0]
        let objective = options.ganMode, penalty = GradientPenalty(lambda: Float(options.lambdaGP))
        let (optimizerG, optimizerD) = (optimizers[0].optimizer, optimizers[1].optimizer)
        var losses: [(name: String, value: Double)] = []
        // D: real, then G(z) detached; G(z) keeps its graph for the G step.
        optimizerD.zeroGrad()
        optimizerG.zeroGrad()
        let dReal = try objective.loss(discriminator.forward(Variable(real), context), real: true)
        // A rank draws the global batch's noise and keeps its rows: each image's z is one process's.
        var z = try DCGAN.noise(count: context.shard?.total ?? count, nz: options.nz, random: random)
        if let shard = context.shard, shard.total != count {
            z = try Tensor(stacking: (shard.offset..<(shard.offset + count)).map { try z.image($0) })
        }
        let fake = try generator.forward(Variable(z), context)
        let dFake = try objective.loss(discriminator.forward(fake.detached(), context), real: false)
        var dLoss = try add(dReal, dFake)
        if objective.hasGradientPenalty && penalty.lambda > 0 {
            let gp = try penalty(critic: { try self.discriminator.forward($0, self.context) }, real: real, fake: fake.data,
                                 alpha: GradientPenalty.drawAlpha(count: count, random: random, shard: context.shard))
            dLoss = try add(dLoss, gp)
            losses.append(("D_GP", gp.scalar))
        }
        try dLoss.backward()
        try optimizerD.step()
        if objective.clipsWeights { clipWeights(discriminator, to: Float(options.clip)) }
        var gValue = Double.nan
        if updateGenerator {
            optimizerG.zeroGrad()
            discriminator.setRequiresGrad(false)
            let gLoss = try objective.loss(discriminator.forward(fake, context), real: true, forGenerator: true)
            discriminator.setRequiresGrad(true)
            try gLoss.backward()
            try optimizerG.step()
            gValue = gLoss.scalar
        }
        return [("Loss_D", dLoss.scalar), ("Loss_G", gValue), ("D_real", dReal.scalar), ("D_fake", dFake.scalar)] + losses
    }

    public func samples(lastBatch: [Tensor]?) throws -> Data? {
        let quiet = TrainingContext(backend: context.backend, updatesRunningStatistics: false)
        return try Self.grid(try generator.forward(Variable(fixedNoise), quiet).data, columns: 8)
    }

    /// N×3×H×W images as a PNG grid, `columns` per row.
    public static func grid(_ images: Tensor, columns: Int, format: ImageFormat = .png) throws -> Data {
        let n = images.shape[0]
        let tiles = try (0..<n).map { try images.image($0) }
        let rows = stride(from: 0, to: n, by: max(1, columns)).map { Array(tiles[$0..<min(n, $0 + columns)]) }
        return try SampleGrid.png(rows, gap: 2, quantization: .round, format: format)
    }
}
