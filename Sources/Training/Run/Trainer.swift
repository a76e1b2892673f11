import Engine
import Foundation
import Models

/// Trains a pix2pix or CycleGAN model as the reference's `train.py` does, into a run folder:
/// for each epoch, every image of the dataset in (shuffled) order through the recipe's
/// `optimize_parameters`, one `losses.jsonl` line per iteration, then the learning-rate step,
/// `latest_net_*.pth` (and `<epoch>_net_*.pth` every `--save-epoch-freq`), the loss curves and a
/// sample grid.
///
/// Not yet: resuming (`--continue`), batch sizes above 1, the HTML index, progress display.
public final class Trainer {
    public let options: TrainingOptions
    public let dataset: TrainingDataset
    public let run: RunFolder
    let random: RandomSource
    let context: TrainingContext
    let generators: [(name: String, net: Generator)]
    let discriminators: [(name: String, net: Discriminator)]
    let optimizerG: Adam, optimizerD: Adam
    let schedulerG: LearningRateScheduler, schedulerD: LearningRateScheduler
    let pix2pix: Pix2PixModel?
    let cyclegan: CycleGANModel?
    let log: LossLog

    /// Checks the options and the dataset, builds and initialises the networks, and creates the
    /// run folder with its `config.yaml`.
    public init(_ options: TrainingOptions, backend: ConvolutionBackend) throws {
        try options.validate()
        guard options.batchSize == 1 else {
            throw TrainingError(.invalidSetting, "--batch-size \(options.batchSize): only 1 (the reference's default) is supported so far")
        }
        guard !options.continueTraining else { throw TrainingError(.invalidSetting, "--continue is not supported yet") }
        self.options = options
        dataset = try TrainingDataset(options)
        run = RunFolder(options.run)
        try run.create()
        random = RandomSource(seed: options.seed)
        context = TrainingContext(backend: backend, dropout: options.noDropout ? nil : random)
        let g = try options.generatorArchitecture()
        let gain = Float(options.initGain)
        switch options.model {
        case .pix2pix:
            let gen = try Generator(g), d = try Discriminator(options.discriminatorArchitecture(channels: options.inputNC + options.outputNC))
            generators = [("G", gen)]
            discriminators = [("D", d)]
            pix2pix = Pix2PixModel(generator: gen, discriminator: d, objective: options.ganMode, lambdaL1: Float(options.lambdaL1),
                                   context: context)
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
                                         lambdaIdentity: Float(options.lambdaIdentity), poolSize: options.poolSize, random: random,
                                         context: context)
        }
        // The reference initialises G before D, each with init_weights, from one generator here.
        for (_, net) in generators { try net.root.initializeWeights(options.initType, gain: gain, random: random) }
        for (_, net) in discriminators { try net.root.initializeWeights(options.initType, gain: gain, random: random) }
        func named(_ list: [(name: String, root: Module)]) -> [(name: String, variable: Variable)] {
            list.flatMap { $0.root.parameters(prefix: "\($0.name).") }
        }
        optimizerG = try Adam(parameters: named(generators.map { ($0.name, $0.net.root) }), lr: options.lr, betas: (options.beta1, 0.999))
        optimizerD = try Adam(parameters: named(discriminators.map { ($0.name, $0.net.root) }), lr: options.lr, betas: (options.beta1, 0.999))
        schedulerG = try LearningRateScheduler(policy: options.learningRatePolicy, baseLR: options.lr)
        schedulerD = try LearningRateScheduler(policy: options.learningRatePolicy, baseLR: options.lr)
        do {
            try Data(options.yaml.utf8).write(to: run.url.appendingPathComponent("config.yaml"), options: .atomic)
        } catch {
            throw TrainingError(.writeFailed, "\(run.url.path)/config.yaml: \(error.localizedDescription)")
        }
        log = try LossLog(url: run.url.appendingPathComponent("losses.jsonl"))
    }

    /// The epochs the reference runs: `epoch_count` … `n_epochs + n_epochs_decay`.
    public var epochs: ClosedRange<Int> { options.epochCount...max(options.epochCount, options.nEpochs + options.nEpochsDecay) }

    /// Trains one epoch; `report` sees every iteration's record.
    public func trainEpoch(_ epoch: Int, report: (LossRecord) -> Void = { _ in }) throws {
        var last: (input: Tensor, target: Tensor)?
        for (i, index) in dataset.epochOrder(random: random).enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            let item = try dataset.item(index, random: random)
            let losses: [(String, Double)]
            if let pix2pix {
                losses = try pix2pix.optimize(realA: item.input, realB: item.target, optimizerG: optimizerG, optimizerD: optimizerD).named
            } else {
                losses = try cyclegan!.optimize(realA: item.input, realB: item.target, optimizerG: optimizerG, optimizerD: optimizerD).named
            }
            last = (item.input, item.target)
            let record = LossRecord(epoch: epoch, iter: i + 1, lr: optimizerG.lr, losses: losses.map { (name: $0.0, value: $0.1) },
                                    seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            try log.append(record)
            report(record)
        }
        // The reference steps the schedulers at the end of each epoch (2025 code).
        for (scheduler, optimizer) in [(schedulerG, optimizerG), (schedulerD, optimizerD)] {
            try scheduler.step(metric: options.lrPolicy == .plateau ? 0 : nil)
            optimizer.lr = scheduler.lr
        }
        let networks = generators.map { ($0.name, $0.net.root) } + discriminators.map { ($0.name, $0.net.root) }
        try run.saveNetworks(networks, epoch: "latest")
        if epoch % options.saveEpochFreq == 0 { try run.saveNetworks(networks, epoch: String(epoch)) }
        try write(LossCurves.svg(try LossLog.read(log.url)), to: "loss_curves.svg")
        if let last { try writeSamples(epoch: epoch, input: last.input, target: last.target) }
    }

    private func writeSamples(epoch: Int, input: Tensor, target: Tensor) throws {
        // Drawn with the networks as they are now, without touching BatchNorm's buffers.
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

    private func write(_ text: String, to name: String) throws { try write(Data(text.utf8), to: name) }

    private func write(_ data: Data, to name: String) throws {
        do { try data.write(to: run.url.appendingPathComponent(name), options: .atomic) } catch {
            throw TrainingError(.writeFailed, "\(run.url.path)/\(name): \(error.localizedDescription)")
        }
    }
}
