import Checkpoints
import Engine
import Foundation
import Models
import Runs

/// StarGAN as yunjey/stargan's `Solver.train()` runs it: `num_iters` iterations over shuffled
/// batches (a new shuffle each pass over the data), the D step every iteration and the G step
/// every `n_critic`, the solver's learning-rate rule (per iteration), and every `model_save_step`
/// iterations `models/<iter>-G.ckpt` / `-D.ckpt` (plain state dicts, as the solver's
/// `torch.save`, loadable by its `restore_model`). Every `sample_step`: `samples/<iter>-images.png`,
/// fixed images translated to every domain.
public final class StarGANRecipe: Recipe {
    public let options: TrainingOptions
    public let dataset: StarGANDataset
    /// The networks and the step.
    public let model: StarGANModel
    public let optimizers: [RecipeOptimizer]
    let random: RandomSource
    /// Up to four images (and their labels) translated into every domain for the samples.
    let fixed: [(image: Tensor, labels: [Float])]

    /// `shard`: the rank's part of each global batch in a data-parallel job (nil: one process).
    public init(_ options: TrainingOptions, backend: ConvolutionBackend, random: RandomSource, shard: BatchShard? = nil) throws {
        dataset = try StarGANDataset(folder: options.data, attributeTable: options.attributes.isEmpty ? nil : options.attributes,
                                     selected: options.selectedAttrs, cropSize: options.cropSize, imageSize: options.imageSize,
                                     flip: !options.noFlip, holdOut: options.holdOut)
        var options = options
        if options.continueTraining, !options.domains.isEmpty, options.domains != dataset.domains {
            throw TrainingError(.invalidSetting, "--continue: the run was trained on domains \(options.domains.joined(separator: ", ")), the data now has \(dataset.domains.joined(separator: ", "))")
        }
        options.domains = dataset.domains
        self.options = options
        self.random = random
        let (g, d) = options.starGANArchitectures(domains: dataset.domains.count)
        let generator = try Generator(g), discriminator = try Discriminator(d)
        generator.root.initializeAsPyTorch(random: random)
        discriminator.root.initializeAsPyTorch(random: random)
        model = StarGANModel(generator: generator, discriminator: discriminator, labels: dataset.kind, random: random,
                             context: TrainingContext(backend: backend, shard: shard))
        model.lambdaClassification = Float(options.lambdaCls)
        model.lambdaReconstruction = Float(options.lambdaRec)
        model.penalty = GradientPenalty(lambda: Float(options.lambdaGP), epsilon: 0)
        // G's rate from `lr` (g_lr), D's from `d-lr` (d_lr) when given: each decays from its own start.
        let policy = Self.learningRatePolicy(options)
        let (gLR, dLR) = (options.lr, options.dLR ?? options.lr)
        optimizers = [
            RecipeOptimizer("G", try Adam(parameters: generator.root.parameters(prefix: "G."), lr: gLR, betas: (options.beta1, 0.999)),
                            schedule: try LearningRateScheduler(policy: policy, baseLR: gLR)),
            RecipeOptimizer("D", try Adam(parameters: discriminator.root.parameters(prefix: "D."), lr: dLR, betas: (options.beta1, 0.999)),
                            schedule: try LearningRateScheduler(policy: policy, baseLR: dLR)),
        ]
        // The solver's x_fixed is its first batch; these are the data's first images, unflipped.
        let sampler = RandomSource(seed: 0)
        let data = dataset, count = data.count
        fixed = try (0..<min(4, count)).map { try data.item($0 * max(1, count / 4), random: sampler, flip: false) }
    }

    /// The solver's rule (see `LearningRatePolicy.starGAN`).
    public static func learningRatePolicy(_ o: TrainingOptions) -> LearningRatePolicy {
        .starGAN(numIters: o.numIters, numItersDecay: o.numItersDecay, updateEvery: o.lrUpdateStep)
    }

    /// The rate of G (or D, from `d-lr`) after `i` iterations, as the loop's schedule steps it.
    public static func learningRate(after i: Int, _ o: TrainingOptions, network: String = "G") throws -> Double {
        let schedule = try LearningRateScheduler(policy: learningRatePolicy(o), baseLR: network == "D" ? o.dLR ?? o.lr : o.lr)
        for _ in 0..<i { try schedule.step() }
        return schedule.lr
    }

    public var data: any TrainingData { dataset }
    public var length: RunLength { .iterations(options.numIters) }
    public var cadence: Cadence {
        Cadence(state: options.modelSaveStep, numbered: options.modelSaveStep, samples: options.sampleStep, numberedAtEnd: true)
    }
    public var networks: [(name: String, module: Module)] { [("G", model.generator.root), ("D", model.discriminator.root)] }
    public var generatorTerms: Set<String> { StarGANModel.Losses.generatorTerms }

    /// The solver's test images, so they can be converted with the trained model.
    public var startFiles: [(name: String, contents: String)] {
        dataset.heldOut.isEmpty ? [] : [("held_out.txt", dataset.heldOut.joined(separator: "\n") + "\n")]
    }

    /// Batch: [images N×3×S×S, labels N×c]. Target labels: the batch's labels permuted (torch.randperm).
    public func step(_ batch: [Tensor], updateGenerator: Bool) throws -> [(name: String, value: Double)] {
        let (images, original) = (batch[0], batch[1])
        let (n, c) = (original.shape[0], original.shape[1])
        // A rank of a data-parallel job permutes the global batch's labels and keeps its rows.
        let shard = model.context.shard, gather = shard?.gather
        let all = try gather.map { try $0(original) } ?? original
        let total = all.shape[0]
        var permutation = Array(0..<total)
        for i in stride(from: permutation.count - 1, to: 0, by: -1) {
            permutation.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        let labels = all.values
        let mine = gather == nil ? 0..<n : shard!.offset..<(shard!.offset + n)
        let targets = try Tensor(shape: [n, c], values: permutation[mine].flatMap { labels[($0 * c)..<(($0 + 1) * c)] })
        return try model.optimize(images: images, labels: original, targets: targets, optimizerG: optimizers[0].optimizer,
                                  optimizerD: optimizers[1].optimizer, updateGenerator: updateGenerator).named.map { (name: $0.0, value: $0.1) }
    }

    /// Each fixed image, then it translated to every domain (the solver's sample grid, a row per image).
    public func samples(lastBatch: [Tensor]?) throws -> Data? {
        let context = TrainingContext(backend: model.context.backend, updatesRunningStatistics: false)
        var rows: [[Tensor]] = []
        for (image, labels) in fixed {
            var row = [image]
            for k in 0..<dataset.domains.count {
                let target = try Tensor(shape: [1, labels.count], values: Self.targetLabels(labels, domain: k, names: dataset.domains, kind: dataset.kind))
                row.append(try model.generator.forward(Variable(image), condition: target, context: context).data)
            }
            rows.append(row)
        }
        return try SampleGrid.png(rows, quantization: .round)
    }

    /// `models/<iter>-{G,D}.ckpt`, plain state dicts as the solver saves them.
    public func saveNumbered(_ n: Int, in run: RunFolder) throws {
        let models = run.url.appendingPathComponent("models")
        try? FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for (name, module) in networks {
            do { try TorchWriter.write(module.stateDict(), to: models.appendingPathComponent("\(n)-\(name).ckpt")) } catch {
                throw TrainingError(.writeFailed, "\(error)")
            }
        }
    }

    /// The solver's `create_labels` for domain `k`: for attributes, a hair colour set exclusively
    /// and any other attribute flipped; for domains, one-hot.
    static func targetLabels(_ labels: [Float], domain k: Int, names: [String], kind: StarGANModel.Labels) -> [Float] {
        guard kind == .attributes else { return labels.indices.map { Float($0 == k ? 1 : 0) } }
        let hair = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"]
        var out = labels
        if hair.contains(names[k]) {
            for (j, name) in names.enumerated() where hair.contains(name) { out[j] = j == k ? 1 : 0 }
        } else {
            out[k] = out[k] == 1 ? 0 : 1
        }
        return out
    }
}
