import Checkpoints
import Engine
import Foundation
import Models

/// Trains StarGAN as yunjey/stargan's `Solver.train()` does, into a run folder: `num_iters`
/// iterations over shuffled batches (a new shuffle each pass over the data), the D step every
/// iteration and the G step every `n_critic`, the solver's learning-rate rule, and every
/// `model_save_step` iterations `models/<iter>-G.ckpt` / `-D.ckpt` (plain state dicts, as the
/// solver's `torch.save`, loadable by its `restore_model`) plus `latest_net_G.pth` for
/// `gantry convert -m RUN`. Every `sample_step`: `samples/<iter>-images.png`, fixed images
/// translated to every domain. `losses.jsonl`, `loss_curves.svg` and `config.yaml` (with the
/// domain names) as for the other recipes; a stop saves `state.json` that `--continue` resumes.
public final class StarGANTrainer {
    public private(set) var options: TrainingOptions
    public let dataset: StarGANDataset
    public let run: RunFolder
    /// The networks and the step (for tests and tools that look inside a run in progress).
    public let model: StarGANModel
    let optimizerG: Adam, optimizerD: Adam
    let dataRandom: RandomSource, modelRandom: RandomSource
    /// Completed iterations.
    public private(set) var iteration = 0
    var order: [Int] = [], position = 0
    var log: LossLog!
    /// Up to four images (and their labels) translated into every domain for the samples.
    let fixed: [(image: Tensor, labels: [Float])]

    public init(_ options: TrainingOptions, backend: ConvolutionBackend) throws {
        guard options.model == .stargan else { throw TrainingError(.invalidSetting, "StarGANTrainer trains the stargan recipe") }
        try options.validate()
        dataset = try StarGANDataset(folder: options.data, attributeTable: options.attributes.isEmpty ? nil : options.attributes,
                                     selected: options.selectedAttrs, cropSize: options.cropSize, imageSize: options.imageSize,
                                     flip: !options.noFlip, holdOut: options.holdOut)
        var options = options
        if options.continueTraining, !options.domains.isEmpty, options.domains != dataset.domains {
            throw TrainingError(.invalidSetting, "--continue: the run was trained on domains \(options.domains.joined(separator: ", ")), the data now has \(dataset.domains.joined(separator: ", "))")
        }
        options.domains = dataset.domains
        self.options = options
        run = RunFolder(options.run)
        try run.create(fresh: !options.continueTraining, overwrite: options.overwrite)
        modelRandom = RandomSource(seed: options.seed)
        dataRandom = RandomSource(seed: options.seed ^ 0x6461_7461_5F72_6E67)
        let (g, d) = options.starGANArchitectures(domains: dataset.domains.count)
        let generator = try Generator(g), discriminator = try Discriminator(d)
        generator.root.initializeAsPyTorch(random: modelRandom)
        discriminator.root.initializeAsPyTorch(random: modelRandom)
        model = StarGANModel(generator: generator, discriminator: discriminator, labels: dataset.kind, random: modelRandom,
                             context: TrainingContext(backend: backend))
        model.lambdaClassification = Float(options.lambdaCls)
        model.lambdaReconstruction = Float(options.lambdaRec)
        model.penalty = GradientPenalty(lambda: Float(options.lambdaGP), epsilon: 0)
        optimizerG = try Adam(parameters: generator.root.parameters(prefix: "G."), lr: options.lr, betas: (options.beta1, 0.999))
        optimizerD = try Adam(parameters: discriminator.root.parameters(prefix: "D."), lr: options.dLR ?? options.lr, betas: (options.beta1, 0.999))
        // The solver's x_fixed is its first batch; these are the data's first images, unflipped.
        let sampler = RandomSource(seed: 0)
        let data = dataset, count = data.count
        fixed = try (0..<min(4, count)).map { try data.item($0 * max(1, count / 4), random: sampler, flip: false) }
        let logURL = run.url.appendingPathComponent("losses.jsonl")
        if options.continueTraining {
            try resume()
        } else {
            try? FileManager.default.removeItem(at: logURL)
        }
        log = try LossLog(url: logURL)
        try writeText(options.yaml, to: "config.yaml")
        if !dataset.heldOut.isEmpty {
            // The solver's test images, so they can be converted with the trained model.
            try writeText(dataset.heldOut.joined(separator: "\n") + "\n", to: "held_out.txt")
        }
    }

    var networks: [(name: String, module: Module)] { [("G", model.generator.root), ("D", model.discriminator.root)] }

    /// The solver's rule: after iteration i (from 1), once i > num_iters − num_iters_decay, every
    /// lr_update_step iterations lr −= lr₀ / num_iters_decay. (Over the decay window that takes
    /// lr₀ / lr_update_step off in total: the solver barely decays at its defaults.)
    /// G's from `lr` (`g_lr`), D's from `d-lr` (`d_lr`) when given: each decays from its own start.
    public static func learningRate(after i: Int, _ o: TrainingOptions, network: String = "G") -> Double {
        let base = network == "D" ? o.dLR ?? o.lr : o.lr
        guard o.numItersDecay > 0 else { return base }
        let start = o.numIters - o.numItersDecay
        let steps = max(0, i / o.lrUpdateStep - start / o.lrUpdateStep)
        return base - Double(steps) * (base / Double(o.numItersDecay))
    }

    func applyLearningRates() {
        (optimizerG.lr, optimizerD.lr) = (Self.learningRate(after: iteration, options),
                                          Self.learningRate(after: iteration, options, network: "D"))
    }

    /// Trains to `num_iters` or until `shouldStop` answers true (asked after every iteration).
    @discardableResult
    public func train(until shouldStop: () -> Bool = { false }, report: (TrainingEvent) -> Void = { _ in }) throws -> TrainingOutcome {
        report(.epochStarted(epoch: 1, batches: options.numIters))
        let began = DispatchTime.now().uptimeNanoseconds
        var last: LossRecord?
        while iteration < options.numIters {
            let start = DispatchTime.now().uptimeNanoseconds
            let (images, labels) = try nextBatch()
            // Target labels: the batch's labels permuted (torch.randperm).
            var permutation = Array(0..<labels.count)
            for i in stride(from: permutation.count - 1, to: 0, by: -1) {
                permutation.swapAt(i, Int(modelRandom.next() % UInt64(i + 1)))
            }
            let c = dataset.domains.count
            let original = try Tensor(shape: [labels.count, c], values: labels.flatMap { $0 })
            let targets = try Tensor(shape: [labels.count, c], values: permutation.flatMap { labels[$0] })
            let updateGenerator = (iteration + 1) % options.nCritic == 0
            let losses = try model.optimize(images: images, labels: original, targets: targets,
                                            optimizerG: optimizerG, optimizerD: optimizerD, updateGenerator: updateGenerator)
            iteration += 1
            if let (name, value) = losses.named.first(where: { !$0.1.isFinite && !(StarGANModel.Losses.generatorTerms.contains($0.0) && !updateGenerator) }) {
                throw TrainingError(.diverged, "loss \(name) became \(value) at iteration \(iteration): training diverged (--lr \(options.lr)); \(run.url.path) keeps the checkpoints saved before")
            }
            applyLearningRates()
            let record = LossRecord(epoch: 1, iter: iteration, lr: optimizerG.lr, losses: losses.named.map { (name: $0.0, value: $0.1) },
                                    seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            try log.append(record)
            last = record
            report(.iteration(record, batch: iteration, batches: options.numIters))
            if iteration % options.sampleStep == 0 || iteration == options.numIters { try writeSamples() }
            if iteration % options.modelSaveStep == 0 || iteration == options.numIters { try saveCheckpoints() }
            if shouldStop() && iteration < options.numIters {
                try saveCheckpoints(interrupted: true)
                return .stopped(epoch: 1, images: iteration)
            }
        }
        report(.epochFinished(epoch: 1, seconds: Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9, last: last))
        return .finished
    }

    /// The next batch of `batch_size` (smaller at the end of a pass), reshuffling after each pass.
    func nextBatch() throws -> (Tensor, [[Float]]) {
        if position >= order.count {
            order = Array(0..<dataset.count)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(dataRandom.next() % UInt64(i + 1))) }
            position = 0
        }
        let indices = order[position..<min(order.count, position + options.batchSize)]
        position += indices.count
        var values: [Float] = [], labels: [[Float]] = []
        for i in indices {
            let item = try dataset.item(i, random: dataRandom)
            values += item.image.values
            labels.append(item.labels)
        }
        return (try Tensor(shape: [indices.count, 3, options.imageSize, options.imageSize], values: values), labels)
    }

    /// `models/<iter>-{G,D}.ckpt`, `latest_net_{G,D}.pth`, the optimizers and `state.json`.
    func saveCheckpoints(interrupted: Bool = false) throws {
        let models = run.url.appendingPathComponent("models")
        try? FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for (name, module) in networks {
            var sd = StateDict()
            for (key, value, _, _) in module.namedTensors() { sd[key] = CheckpointTensor(shape: value.shape, values: value.values) }
            do { try TorchWriter.write(sd, to: models.appendingPathComponent("\(iteration)-\(name).ckpt")) } catch {
                throw TrainingError(.writeFailed, "\(error)")
            }
        }
        try log.flush()
        // One log line per iteration.
        let state = LoopState(iteration: iteration, interrupted: interrupted, order: order, position: position,
                              dataRandom: dataRandom.state, modelRandom: modelRandom.state, lossRecords: iteration)
        try state.save(in: run, networks: networks, optimizers: ["G": optimizerG, "D": optimizerD])
        try writeText(LossCurves.svg(try LossLog.read(log.url)), to: "loss_curves.svg")
    }

    /// `--continue`: the latest networks, optimizers, iteration, data order and random streams.
    func resume() throws {
        let state = try LoopState.resume(run, recipe: "stargan", items: dataset.count, networks: networks,
                                         optimizers: ["G": optimizerG, "D": optimizerD])
        try dataRandom.restore(state.dataRandom)
        try modelRandom.restore(state.modelRandom)
        (iteration, order, position) = (state.iteration, state.order, state.position)
        applyLearningRates()
    }

    /// Each fixed image, then it translated to every domain (the solver's sample grid, a row per
    /// image): for attributes, the solver's `create_labels` (a hair colour set exclusively, any
    /// other attribute flipped); for domains, one-hot.
    func writeSamples() throws {
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
        let folder = run.url.appendingPathComponent("samples")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try write(try SampleGrid.png(rows, quantization: .round), to: "samples/\(iteration)-images.png")
        try RunIndex.update(runFolder: run.url, model: .stargan, epochsTotal: options.numIters, finished: iteration == options.numIters)
    }

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

    func writeText(_ text: String, to name: String) throws { try write(Data(text.utf8), to: name) }

    func write(_ data: Data, to name: String) throws {
        do { try data.write(to: run.url.appendingPathComponent(name), options: .atomic) } catch {
            throw TrainingError(.writeFailed, "\(run.url.path)/\(name): \(error.localizedDescription)")
        }
    }
}
