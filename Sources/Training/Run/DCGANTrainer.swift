import Engine
import Foundation
import Models
import Pipeline

/// Trains DCGAN as pytorch/examples `dcgan/main.py` does, with any `--gan-mode`: per batch the
/// D step on real images and on G(z) (detached), then the G step through the updated D on the same
/// G(z). Images: every PNG/JPEG under `--data`, resized (bilinear, shorter side) and centre-cropped
/// to 64×64. The run folder is the other recipes': `config.yaml`, `losses.jsonl`,
/// `loss_curves.svg`, `latest_net_G.pth` / `_D` (plus `<epoch>_net_*` every `--save-epoch-freq`),
/// `samples/epoch_NNN.png` (the same 64 noise vectors every epoch, 8 per row) and `index.html`;
/// `gantry sample -m RUN` draws new images. `state.json` (`LoopState`), written at every
/// epoch's end and on a stop, lets `--continue` carry on bit for bit.
public final class DCGANTrainer {
    public let options: TrainingOptions
    public let files: [String]
    public let run: RunFolder
    public let generator: Module, discriminator: Module
    let optimizerG: any Optimizer, optimizerD: any Optimizer
    let dataRandom: RandomSource, modelRandom: RandomSource
    let context: TrainingContext
    let fixedNoise: Tensor
    var log: LossLog
    var iterations = 0
    /// Where `train` begins: the epoch, and its order and position when continuing inside it.
    public private(set) var nextEpoch = 1
    var resumeOrder: [Int]?, resumePosition = 0

    public init(_ options: TrainingOptions, backend: ConvolutionBackend) throws {
        guard options.model == .dcgan else { throw TrainingError(.invalidSetting, "DCGANTrainer trains the dcgan recipe") }
        try options.validate()
        self.options = options
        files = try TrainingDataset.images(in: URL(fileURLWithPath: options.data))
        guard !files.isEmpty else { throw TrainingError(.invalidSetting, "\(options.data): no PNG or JPEG images") }
        run = RunFolder(options.run)
        try run.create(fresh: !options.continueTraining, overwrite: options.overwrite)
        modelRandom = RandomSource(seed: options.seed)
        dataRandom = RandomSource(seed: options.seed ^ 0x6461_7461_5F72_6E67)
        generator = try DCGAN.generator(nz: options.nz, ngf: options.ngf, batchNorm: options.norm == .batch)
        discriminator = try DCGAN.discriminator(ndf: options.ndf, batchNorm: options.norm == .batch)
        // The example's weights_init: conv N(0, 0.02), batch norm N(1, 0.02) and 0.
        try generator.initializeWeights(.normal, gain: 0.02, random: modelRandom)
        try discriminator.initializeWeights(.normal, gain: 0.02, random: modelRandom)
        func optimizer(_ parameters: [(name: String, variable: Variable)]) throws -> any Optimizer {
            switch options.resolvedOptimizer {
            case .rmsprop: try RMSprop(parameters: parameters, lr: options.lr)
            case .adam, .auto: try Adam(parameters: parameters, lr: options.lr, betas: (options.beta1, 0.999))
            }
        }
        optimizerG = try optimizer(generator.parameters(prefix: "G."))
        optimizerD = try optimizer(discriminator.parameters(prefix: "D."))
        context = TrainingContext(backend: backend)
        fixedNoise = try DCGAN.noise(count: 64, nz: options.nz, random: RandomSource(seed: options.seed ^ 0x6669_7865_64))
        let logURL = run.url.appendingPathComponent("losses.jsonl")
        if options.continueTraining {
            let state = try LoopState.resume(run, recipe: "dcgan", items: files.count, networks: [("G", generator), ("D", discriminator)],
                                             optimizers: ["G": optimizerG, "D": optimizerD])
            try dataRandom.restore(state.dataRandom)
            try modelRandom.restore(state.modelRandom)
            iterations = state.iteration
            nextEpoch = state.epoch ?? 1
            if state.position < state.order.count { (resumeOrder, resumePosition) = (state.order, state.position) }
        } else {
            try? FileManager.default.removeItem(at: logURL)
        }
        log = try LossLog(url: logURL)
        do { try Data(options.yaml.utf8).write(to: run.url.appendingPathComponent("config.yaml"), options: .atomic) } catch {
            throw TrainingError(.writeFailed, "\(run.url.path)/config.yaml: \(error.localizedDescription)")
        }
    }

    public var epochs: ClosedRange<Int> { 1...max(1, options.nEpochs) }
    var optimizers: [String: any Optimizer] { ["G": optimizerG, "D": optimizerD] }
    var networks: [(name: String, module: Module)] { [("G", generator), ("D", discriminator)] }

    /// Trains the epochs left, or until `shouldStop` answers true (then saves the state to
    /// `--continue` from, mid-epoch or at the epoch's end).
    @discardableResult
    public func train(until shouldStop: () -> Bool = { false }, report: (TrainingEvent) -> Void = { _ in }) throws -> TrainingOutcome {
        let objective = options.ganMode
        let penalty = GradientPenalty(lambda: Float(options.lambdaGP))
        for epoch in stride(from: nextEpoch, through: epochs.upperBound, by: 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            var order: [Int]
            var position = 0
            if let resumed = resumeOrder {
                (order, position, resumeOrder) = (resumed, resumePosition, nil)
            } else {
                order = Array(files.indices)
                for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(dataRandom.next() % UInt64(i + 1))) }
            }
            let batches = (order.count + options.batchSize - 1) / options.batchSize
            report(.epochStarted(epoch: epoch, batches: batches))
            var last: LossRecord?
            while position < order.count {
                let iterationStart = DispatchTime.now().uptimeNanoseconds
                let indices = order[position..<min(order.count, position + options.batchSize)]
                position += indices.count
                let b = (position - 1) / options.batchSize
                let real = try batch(indices)
                let updateGenerator = (iterations + 1) % options.nCritic == 0
                var losses: [(name: String, value: Double)] = []
                // D: real, then G(z) detached; G(z) keeps its graph for the G step.
                optimizerD.zeroGrad()
                optimizerG.zeroGrad()
                let dReal = try objective.loss(Self.forward(discriminator, Variable(real), context), real: true)
                let fake = try Self.forward(generator, Variable(DCGAN.noise(count: indices.count, nz: options.nz, random: modelRandom)), context)
                let dFake = try objective.loss(Self.forward(discriminator, fake.detached(), context), real: false)
                var dLoss = try add(dReal, dFake)
                if objective.hasGradientPenalty && penalty.lambda > 0 {
                    let gp = try penalty(critic: { try Self.forward(self.discriminator, $0, self.context) }, real: real, fake: fake.data,
                                         alpha: GradientPenalty.drawAlpha(count: indices.count, random: modelRandom))
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
                    let gLoss = try objective.loss(Self.forward(discriminator, fake, context), real: true, forGenerator: true)
                    discriminator.setRequiresGrad(true)
                    try gLoss.backward()
                    try optimizerG.step()
                    gValue = gLoss.scalar
                }
                iterations += 1
                losses = [("Loss_D", dLoss.scalar), ("Loss_G", gValue), ("D_real", dReal.scalar), ("D_fake", dFake.scalar)] + losses
                if let bad = losses.first(where: { !$0.value.isFinite && !($0.name == "Loss_G" && !updateGenerator) }) {
                    throw TrainingError(.diverged, "loss \(bad.name) became \(bad.value) at epoch \(epoch), batch \(b + 1): training diverged (--gan-mode \(objective.rawValue), --lr \(options.lr)); \(run.url.path) keeps the checkpoints of the last finished epoch")
                }
                let record = LossRecord(epoch: epoch, iter: position, lr: options.lr, losses: losses,
                                        seconds: Double(DispatchTime.now().uptimeNanoseconds - iterationStart) / 1e9)
                try log.append(record)
                last = record
                report(.iteration(record, batch: b + 1, batches: batches))
                // At an epoch's end the stop waits for the epoch's checkpoints and samples.
                if position < order.count && shouldStop() {
                    try saveState(epoch: epoch, order: order, position: position, interrupted: true)
                    return .stopped(epoch: epoch, images: position)
                }
            }
            let stopping = epoch < epochs.upperBound && shouldStop()
            try saveState(epoch: epoch + 1, order: [], position: 0, interrupted: stopping)
            if epoch % options.saveEpochFreq == 0 { try run.saveNetworks(networks, epoch: String(epoch)) }
            try write(Data(LossCurves.svg(try LossLog.read(log.url)).utf8), to: "loss_curves.svg")
            try writeSamples(epoch: epoch)
            try RunIndex.update(runFolder: run.url, model: .dcgan, epochsTotal: epochs.upperBound, finished: epoch == epochs.upperBound)
            report(.epochFinished(epoch: epoch, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, last: last))
            if stopping { return .stopped(epoch: epoch, images: order.count) }
        }
        return .finished
    }

    /// `latest_net_*`, the optimizers and `state.json`: the run as it is now, to `--continue`.
    func saveState(epoch: Int, order: [Int], position: Int, interrupted: Bool) throws {
        try log.flush()
        // One log line per iteration.
        let state = LoopState(iteration: iterations, epoch: epoch, epochs_done: epoch - 1, interrupted: interrupted, order: order,
                              position: position, dataRandom: dataRandom.state, modelRandom: modelRandom.state, lossRecords: iterations)
        try state.save(in: run, networks: networks, optimizers: optimizers)
    }

    static func forward(_ module: Module, _ x: Variable, _ context: TrainingContext) throws -> Variable {
        try module.forward(x, context)
    }

    /// 64×64 RGB in [−1, 1]: the example's `Resize(64)`, `CenterCrop(64)`, `Normalize(0.5, 0.5)`.
    func batch(_ indices: ArraySlice<Int>) throws -> Tensor {
        var values: [Float] = []
        for i in indices {
            values += try Self.load(files[i], size: DCGAN.imageSize).values
        }
        return try Tensor(shape: [indices.count, 3, DCGAN.imageSize, DCGAN.imageSize], values: values)
    }

    public static func load(_ file: String, size: Int) throws -> Tensor {
        let decoded = try TrainingDataset.decode(file)
        let r = PlanarImage.shorterSide(width: decoded.width, height: decoded.height, to: size)
        guard PlanarImage.fits(width: r.width, height: r.height) else {
            throw TrainingError(.invalidSetting, "\(file): \(decoded.width)×\(decoded.height) would be \(r.width)×\(r.height) with its shorter side at \(size), too large an image")
        }
        let image = decoded.shorterSideResized(to: size).centreCropped(width: size, height: size)
        return try ReferenceTransform.tensor(image, channels: 3)
    }

    func writeSamples(epoch: Int) throws {
        let quiet = TrainingContext(backend: context.backend, updatesRunningStatistics: false)
        let images = try generator.forward(Variable(fixedNoise), quiet).data
        try? FileManager.default.createDirectory(at: run.url.appendingPathComponent("samples"), withIntermediateDirectories: true)
        try write(try Self.grid(images, columns: 8), to: RunIndex.samplePath(epoch: epoch))
    }

    /// N×3×H×W images as a PNG grid, `columns` per row.
    public static func grid(_ images: Tensor, columns: Int) throws -> Data {
        let n = images.shape[0], per = images.count / max(1, n)
        let tiles = try (0..<n).map { i in
            try Tensor(shape: [1] + Array(images.shape.dropFirst()), values: images.withUnsafeBufferPointer { Array($0[(i * per)..<((i + 1) * per)]) })
        }
        let rows = stride(from: 0, to: n, by: max(1, columns)).map { Array(tiles[$0..<min(n, $0 + columns)]) }
        return try SampleGrid.png(rows, gap: 2, quantization: .round)
    }

    func write(_ data: Data, to name: String) throws {
        do { try data.write(to: run.url.appendingPathComponent(name), options: .atomic) } catch {
            throw TrainingError(.writeFailed, "\(run.url.path)/\(name): \(error.localizedDescription)")
        }
    }
}
