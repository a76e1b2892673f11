import Engine
import Foundation
import Models

/// What a training run reports as it goes (the CLI draws progress from these).
public enum TrainingEvent {
    /// Something the person should know that is not an error (e.g. what `--continue` loaded).
    case note(String)
    case epochStarted(epoch: Int, batches: Int)
    /// One iteration; `batch` counts from 1 within the epoch's `batches`.
    case iteration(LossRecord, batch: Int, batches: Int)
    /// An input that could not be decoded and was left out of its batch.
    case skipped(String)
    case epochFinished(epoch: Int, seconds: Double, last: LossRecord?)
}

/// How `train` ended.
public enum TrainingOutcome: Equatable, Sendable {
    /// Every epoch ran.
    case finished
    /// A stop was asked for; a resumable state was saved after `iteration` images of `epoch`
    /// (0: at the end of the epoch before).
    case stopped(epoch: Int, images: Int)
}

/// Trains a pix2pix or CycleGAN model as the reference's `train.py` does, into a run folder:
/// each epoch, the dataset in (shuffled) order through the recipe's `optimize_parameters`, one
/// `losses.jsonl` line per iteration, then the learning-rate step, `latest_net_*` (and
/// `<epoch>_net_*` every `--save-epoch-freq`), the loss curves, a sample grid, and a resumable
/// `state.json` — also written when a stop is asked for between iterations.
///
/// Randomness comes from two seeded generators: one for the data (shuffle, crops, flips, drawn on
/// the prefetch thread) and one for the model (initialisation, dropout, image pools), so the
/// background decoding cannot change what a seed trains.
public final class Trainer {
    public private(set) var options: TrainingOptions
    public let dataset: TrainingDataset
    public let run: RunFolder
    let dataRandom: RandomSource
    let modelRandom: RandomSource
    let context: TrainingContext
    let generators: [(name: String, net: Generator)]
    let discriminators: [(name: String, net: Discriminator)]
    let optimizerG: any Optimizer, optimizerD: any Optimizer
    var schedulerG: LearningRateScheduler!, schedulerD: LearningRateScheduler!
    let pix2pix: Pix2PixModel?
    let cyclegan: CycleGANModel?
    var log: LossLog!
    /// Where training continues: the epoch, its order and consumed entries when stopped inside it.
    var next: (epoch: Int, order: [Int]?, position: Int, images: Int)
    var iterations = 0
    var skipped: [String] = [], skippedCount = 0
    var logRecords = 0
    /// What `--continue` did, for the person to read.
    public internal(set) var notes: [String] = []

    /// Checks the options and the dataset, builds and initialises the networks (or, with
    /// `--continue`, loads them and whatever training state the run folder holds), and writes
    /// the run folder's `config.yaml`.
    public init(_ options: TrainingOptions, backend: ConvolutionBackend) throws {
        guard [.pix2pix, .cyclegan].contains(options.model) else {
            throw TrainingError(.invalidSetting, "\(options.model.rawValue) trains with its own trainer (`gantry train \(options.model.rawValue)`)")
        }
        try options.validate()
        self.options = options
        dataset = try TrainingDataset(options)
        run = RunFolder(options.run)
        try run.create(fresh: !options.continueTraining, overwrite: options.overwrite)
        modelRandom = RandomSource(seed: options.seed)
        // A different stream for the data; its seed is derived so one --seed sets both.
        dataRandom = RandomSource(seed: options.seed ^ 0x6461_7461_5F72_6E67)
        context = TrainingContext(backend: backend, dropout: options.noDropout ? nil : modelRandom)
        let g = try options.generatorArchitecture()
        switch options.model {
        case .pix2pix:
            let gen = try Generator(g), d = try Discriminator(options.discriminatorArchitecture(channels: options.inputNC + options.outputNC))
            generators = [("G", gen)]
            discriminators = [("D", d)]
            pix2pix = Pix2PixModel(generator: gen, discriminator: d, objective: options.ganMode, lambdaL1: Float(options.lambdaL1),
                                   penalty: GradientPenalty(lambda: Float(options.lambdaGP)), random: modelRandom, context: context)
            pix2pix!.clip = Float(options.clip)
            cyclegan = nil
        case .cyclegan:
            var reverse = g
            (reverse.inputChannels, reverse.outputChannels) = (g.outputChannels, g.inputChannels)
            let gA = try Generator(g), gB = try Generator(reverse)
            let dA = try Discriminator(options.discriminatorArchitecture(channels: options.outputNC))
            let dB = try Discriminator(options.discriminatorArchitecture(channels: options.inputNC))
            generators = [("G_A", gA), ("G_B", gB)]
            discriminators = [("D_A", dA), ("D_B", dB)]
            pix2pix = nil
            cyclegan = try CycleGANModel(generatorA: gA, generatorB: gB, discriminatorA: dA, discriminatorB: dB,
                                         objective: options.ganMode, lambdaA: Float(options.lambdaA), lambdaB: Float(options.lambdaB),
                                         lambdaIdentity: Float(options.lambdaIdentity), poolSize: options.poolSize,
                                         penalty: GradientPenalty(lambda: Float(options.lambdaGP)), random: modelRandom,
                                         context: context)
            cyclegan!.clip = Float(options.clip)
        case .stargan, .dcgan:
            throw TrainingError(.invalidSetting, "\(options.model.rawValue) trains with its own trainer")
        }
        // The reference initialises G before D, each with init_weights, from one generator here.
        for (_, net) in generators { try net.root.initializeWeights(options.initType, gain: Float(options.initGain), random: modelRandom) }
        for (_, net) in discriminators { try net.root.initializeWeights(options.initType, gain: Float(options.initGain), random: modelRandom) }
        func named(_ list: [(name: String, root: Module)]) -> [(name: String, variable: Variable)] {
            list.flatMap { $0.root.parameters(prefix: "\($0.name).") }
        }
        func optimizer(_ parameters: [(name: String, variable: Variable)]) throws -> any Optimizer {
            switch options.resolvedOptimizer {
            case .rmsprop: try RMSprop(parameters: parameters, lr: options.lr)
            case .adam, .auto: try Adam(parameters: parameters, lr: options.lr, betas: (options.beta1, 0.999))
            }
        }
        optimizerG = try optimizer(named(generators.map { ($0.name, $0.net.root) }))
        optimizerD = try optimizer(named(discriminators.map { ($0.name, $0.net.root) }))
        next = (options.epochCount, nil, 0, 0)
        if options.continueTraining, let start = try continueFromRunFolder() {
            // Weights alone from epoch N: the schedule starts at N + 1 as if it had run there.
            self.options.epochCount = start
            next.epoch = start
        }
        schedulerG = try LearningRateScheduler(policy: self.options.learningRatePolicy, baseLR: options.lr)
        schedulerD = try LearningRateScheduler(policy: self.options.learningRatePolicy, baseLR: options.lr)
        if options.continueTraining { try restoreExactState() }
        do {
            try Data(self.options.yaml.utf8).write(to: run.url.appendingPathComponent("config.yaml"), options: .atomic)
        } catch {
            throw TrainingError(.writeFailed, "\(run.url.path)/config.yaml: \(error.localizedDescription)")
        }
        if log == nil {
            // A new run starts a new log; a continued one keeps the lines its state counts.
            if !options.continueTraining { try? FileManager.default.removeItem(at: run.url.appendingPathComponent("losses.jsonl")) }
            log = try LossLog(url: run.url.appendingPathComponent("losses.jsonl"))
            logRecords = (try? LossLog.read(log.url).count) ?? 0
        }
    }

    /// The epochs the reference runs: `epoch_count` … `n_epochs + n_epochs_decay`.
    public var epochs: ClosedRange<Int> { options.epochCount...max(options.epochCount, options.nEpochs + options.nEpochsDecay) }

    /// The epoch the next iteration belongs to (past `epochs` when training is complete).
    public var nextEpoch: Int { next.epoch }

    /// Trains from where the run stands to the last epoch, or until `shouldStop` answers true
    /// (asked after every iteration): then saves a state `--continue` resumes exactly from.
    @discardableResult
    public func train(until shouldStop: () -> Bool = { false }, report: (TrainingEvent) -> Void = { _ in }) throws -> TrainingOutcome {
        let last = epochs.upperBound
        while next.epoch <= last {
            let epoch = next.epoch
            let start = DispatchTime.now().uptimeNanoseconds
            let remaining = (next.order?.count ?? dataset.count) - next.position
            let batches = (remaining + options.batchSize - 1) / options.batchSize
            report(.epochStarted(epoch: epoch, batches: batches))
            let prefetcher = Prefetcher(dataset: dataset, random: dataRandom, batchSize: options.batchSize,
                                        order: next.order, position: next.position)
            defer { prefetcher.finish() }
            var images = next.images, batch = 0
            var lastRecord: LossRecord?, lastBatch: Prefetcher.Batch?
            while let b = try prefetcher.next(skipped: { message in
                // Each file once (it fails again every epoch), and a bounded list.
                if skipped.count < 10_000, !skipped.contains(message) { skipped.append(message) }
                skippedCount += 1
                report(.skipped(message))
            }) {
                let iterationStart = DispatchTime.now().uptimeNanoseconds
                let updateGenerator = (iterations + 1) % options.nCritic == 0
                let losses = try step(b, updateGenerator: updateGenerator)
                let skipped = updateGenerator ? [] : (pix2pix != nil ? Pix2PixModel.Losses.generatorTerms : CycleGANModel.Losses.generatorTerms)
                if let (name, value) = losses.first(where: { !$0.1.isFinite && !skipped.contains($0.0) }) {
                    // The optimizers have already applied this step: saving now would overwrite
                    // the last good checkpoints with non-finite weights.
                    throw TrainingError(.diverged, "loss \(name) became \(value) at epoch \(epoch), image \(images + b.images): training diverged (--gan-mode \(options.ganMode.rawValue), --lr \(options.lr)); \(run.url.path) keeps the checkpoints of the last finished epoch")
                }
                images += b.images
                batch += 1
                iterations += 1
                let record = LossRecord(epoch: epoch, iter: images, lr: optimizerG.lr, losses: losses.map { (name: $0.0, value: $0.1) },
                                        seconds: Double(DispatchTime.now().uptimeNanoseconds - iterationStart) / 1e9)
                try log.append(record)
                logRecords += 1
                report(.iteration(record, batch: batch, batches: batches))
                (lastRecord, lastBatch) = (record, b)
                if shouldStop() && (b.position < b.order.count) {
                    prefetcher.finish()
                    next = (epoch, b.order, b.position, images)
                    try run.saveNetworks(networks, epoch: "latest")
                    try saveState(dataState: b.randomState, interrupted: true)
                    return .stopped(epoch: epoch, images: images)
                }
            }
            prefetcher.finish()
            try finishEpoch(epoch, lastBatch: lastBatch)
            next = (epoch + 1, nil, 0, 0)
            let stopping = epoch < last && shouldStop()
            try saveState(dataState: dataRandom.state, interrupted: stopping)
            report(.epochFinished(epoch: epoch, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, last: lastRecord))
            if stopping { return .stopped(epoch: epoch + 1, images: 0) }
        }
        return .finished
    }

    /// One iteration: the D step, and the G step every `--n-critic` iterations (as StarGAN:
    /// after the n-th, 2n-th, … critic step).
    private func step(_ b: Prefetcher.Batch, updateGenerator: Bool) throws -> [(String, Double)] {
        if let pix2pix {
            return try pix2pix.optimize(realA: b.input, realB: b.target, optimizerG: optimizerG, optimizerD: optimizerD,
                                        updateGenerator: updateGenerator).named
        }
        return try cyclegan!.optimize(realA: b.input, realB: b.target, optimizerG: optimizerG, optimizerD: optimizerD,
                                      updateGenerator: updateGenerator).named
    }

    var networks: [(name: String, module: Module)] {
        generators.map { ($0.name, $0.net.root) } + discriminators.map { ($0.name, $0.net.root) }
    }

    /// The reference's end of an epoch: the learning-rate step (2025 code: after the epoch),
    /// then the checkpoints; then our curves, grid and page.
    private func finishEpoch(_ epoch: Int, lastBatch: Prefetcher.Batch?) throws {
        for (scheduler, optimizer) in [(schedulerG!, optimizerG), (schedulerD!, optimizerD)] {
            try scheduler.step(metric: options.lrPolicy == .plateau ? 0 : nil)
            optimizer.lr = scheduler.lr
        }
        try run.saveNetworks(networks, epoch: "latest")
        if epoch % options.saveEpochFreq == 0 { try run.saveNetworks(networks, epoch: String(epoch)) }
        try write(LossCurves.svg(try LossLog.read(log.url)), to: "loss_curves.svg")
        if let lastBatch { try writeSamples(epoch: epoch, input: lastBatch.input, target: lastBatch.target) }
        try RunIndex.update(runFolder: run.url, model: options.model, epochsTotal: epochs.upperBound,
                            finished: epoch == epochs.upperBound)
    }

    private func writeSamples(epoch: Int, input batchInput: Tensor, target batchTarget: Tensor) throws {
        // The batch's first pair, drawn with the networks as they are now, BatchNorm's buffers untouched.
        let input = try firstImage(batchInput), target = try firstImage(batchTarget)
        let quiet = TrainingContext(backend: context.backend, updatesRunningStatistics: false)
        let rows: [[Tensor]]
        if options.model == .pix2pix {
            rows = [[input, try generators[0].net.forward(Variable(input), context: quiet).data, target]]
        } else {
            let (gA, gB) = (generators[0].net, generators[1].net)
            let fakeB = try gA.forward(Variable(input), context: quiet).data, fakeA = try gB.forward(Variable(target), context: quiet).data
            rows = [[input, fakeB, try gB.forward(Variable(fakeB), context: quiet).data, try gB.forward(Variable(input), context: quiet).data],
                    [target, fakeA, try gA.forward(Variable(fakeA), context: quiet).data, try gA.forward(Variable(target), context: quiet).data]]
        }
        let folder = run.url.appendingPathComponent("samples")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try write(try SampleGrid.png(rows), to: "samples/" + String(format: "epoch_%03d.png", epoch))
    }

    private func firstImage(_ batch: Tensor) throws -> Tensor {
        guard batch.shape[0] > 1 else { return batch }
        let n = batch.count / batch.shape[0]
        return try Tensor(shape: [1] + batch.shape.dropFirst(), values: batch.withUnsafeBufferPointer { Array($0.prefix(n)) })
    }

    func write(_ text: String, to name: String) throws { try write(Data(text.utf8), to: name) }

    func write(_ data: Data, to name: String) throws {
        do { try data.write(to: run.url.appendingPathComponent(name), options: .atomic) } catch {
            throw TrainingError(.writeFailed, "\(run.url.path)/\(name): \(error.localizedDescription)")
        }
    }
}
