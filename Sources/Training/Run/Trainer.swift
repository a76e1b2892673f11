import Distributed
import Engine
import Foundation
import Models
import Runs

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
    /// A stop was asked for and a resumable state saved: after `images` images of `epoch`, or for
    /// a run counted in iterations, after `images` iterations (epoch 1).
    case stopped(epoch: Int, images: Int)
}

/// The training loop: runs any `Recipe` into a run folder. Each epoch (a pass over the data) goes
/// in shuffled order through a background `Prefetcher` to the recipe's `step`, one
/// `losses.jsonl` line per iteration; the schedules step after each unit of the run's length (an
/// epoch, or a StarGAN iteration); and at the recipe's `Cadence` the loop saves `latest_net_*` with
/// a resumable `state.json` (`ResumeState`), numbered checkpoints, the loss curves, a sample grid and
/// `index.html`. A stop asked for between iterations saves a state `--continue` resumes from bit
/// for bit; a loss that turns non-finite stops the run before anything is saved over the last
/// good checkpoints.
///
/// Randomness comes from two seeded generators: one for the data (shuffle, crops, flips, drawn on
/// the prefetch thread) and one for the model (initialisation, dropout, pools, noise), so the
/// background decoding cannot change what a seed trains.
public final class Trainer {
    public let recipe: any Recipe
    public let run: RunFolder
    let dataRandom: RandomSource
    let modelRandom: RandomSource
    var log: LossLog?
    /// Where training continues: the epoch, its order and consumed entries when stopped inside it.
    var next: (epoch: Int, order: [Int]?, position: Int, images: Int)
    /// Completed iterations over the whole run.
    public internal(set) var iterations = 0
    var skipped: [String] = [], skippedCount = 0
    var logRecords = 0
    /// A fresh run's files are written when training starts, not before: a run that fails its
    /// checks leaves nothing behind.
    var started = false, createdFolder = false
    /// Set by an exact `--continue` (`restore`).
    var restoredExactly = false
    /// What `--continue` did, for the person to read.
    public internal(set) var notes: [String] = []
    /// `--ema`: the generators' moving average (nil without it).
    let average: GeneratorAverage?
    /// The ranks of an MPI job (nil for a process started without one).
    let parallel: DataParallel?
    /// Whether this process writes the run folder: rank 0 alone does.
    let writes: Bool

    /// Checks the options, builds the recipe and its data, initialises the networks (or, with
    /// `--continue`, loads them and whatever training state the run folder holds). Writes nothing.
    public init(_ options: TrainingOptions, backend: ConvolutionBackend, group: ProcessGroup = .single) throws {
        try options.validate()
        var options = options
        parallel = group.launch == nil ? nil : DataParallel(group: group)
        writes = group.rank == 0
        if let parallel { try parallel.validate(options) }
        run = RunFolder(options.run)
        if writes { try run.check(fresh: !options.continueTraining, overwrite: options.overwrite) }
        modelRandom = RandomSource(seed: options.seed)
        // A different stream for the data; its seed is derived so one --seed sets both.
        dataRandom = RandomSource(seed: options.seed ^ 0x6461_7461_5F72_6E67)
        let exact = options.continueTraining ? try ResumeState.find(in: run, epoch: options.epoch) : nil
        if options.continueTraining, exact == nil, let n = Int(options.epoch), options.epochCount == 1 {
            // Weights alone from epoch N: the schedule starts at N + 1 as if it had run there.
            options.epochCount = n + 1
        }
        recipe = try makeRecipe(options, backend: backend, random: modelRandom, shard: parallel?.shard)
        average = options.ema > 0 ? GeneratorAverage(decay: options.ema, generators: recipe.networks.filter { $0.name.hasPrefix("G") }) : nil
        next = (1, nil, 0, 0)
        if case .epochs(let range) = recipe.length { next.epoch = range.lowerBound }
        if let exact {
            try restore(exact)
        } else if options.continueTraining {
            try continueFromWeights()
        }
    }

    public var options: TrainingOptions { recipe.options }

    /// The epochs the run trains (for a run counted in iterations, 1…1).
    public var epochs: ClosedRange<Int> {
        if case .epochs(let range) = recipe.length { range } else { 1...1 }
    }

    /// The epoch the next iteration belongs to (past `epochs` when training is complete).
    public var nextEpoch: Int { next.epoch }

    /// Trains from where the run stands to its end, or until `shouldStop` answers true (asked
    /// once after every iteration; at an epoch's last iteration the stop waits for the epoch's
    /// checkpoints): then saves a state `--continue` resumes exactly from.
    @discardableResult
    public func train(until shouldStop: () -> Bool = { false }, report: (TrainingEvent) -> Void = { _ in }) throws -> TrainingOutcome {
        let firstSession = !started && iterations == 0
        do {
            try start()
            return try loop(until: shouldStop, report: report)
        } catch {
            // A fresh run that failed before its first iteration (a network too deep for the
            // crops, say) leaves nothing behind, so the corrected command is not refused.
            if firstSession, iterations == 0, !options.continueTraining { removeStartFiles() }
            throw error
        }
    }

    private func loop(until shouldStop: () -> Bool, report: (TrainingEvent) -> Void) throws -> TrainingOutcome {
        let counted: Int? = if case .iterations(let n) = recipe.length { n } else { nil }
        let began = DispatchTime.now().uptimeNanoseconds
        var lastRecord: LossRecord?
        if let counted { report(.epochStarted(epoch: 1, batches: counted)) }
        while !finished {
            let epoch = next.epoch
            let start = DispatchTime.now().uptimeNanoseconds
            let remaining = (next.order?.count ?? recipe.data.count) - next.position
            let batches = (remaining + options.batchSize - 1) / options.batchSize
            if counted == nil { report(.epochStarted(epoch: epoch, batches: batches)) }
            let shard = parallel.map { Prefetcher.Shard(rank: $0.rank, ranks: $0.size, seed: options.seed, epoch: epoch) }
            let prefetcher = Prefetcher(dataset: recipe.data, random: dataRandom, batchSize: options.batchSize,
                                        order: next.order, position: next.position, shard: shard, epoch: epoch)
            defer { prefetcher.finish() }
            var images = next.images, batch = 0, stopAtEnd = false
            var lastBatch: Prefetcher.Batch?
            func fetch() throws -> Prefetcher.Batch? {
                var fetched: Prefetcher.Batch?, failure: Error?
                do {
                    fetched = try prefetcher.next(skipped: { message in
                        // Each file once (it fails again every epoch), and a bounded list.
                        if skipped.count < 10_000, !skipped.contains(message) { skipped.append(message) }
                        skippedCount += 1
                        report(.skipped(message))
                    })
                } catch { failure = error }
                // One rank's unreadable file is every rank's error: the others must not wait for it.
                if let parallel { try parallel.agree(error: failure) } else if let failure { throw failure }
                return fetched
            }
            while !finished, let b = try fetch() {
                let iterationStart = DispatchTime.now().uptimeNanoseconds
                let updateGenerator = (iterations + 1) % options.nCritic == 0
                parallel?.begin(globalBatch: b.images)
                var losses = try recipe.step(b.parts, updateGenerator: updateGenerator)
                // Every rank stops after the same iteration, whichever one heard the signal: the
                // request rides on the losses' sum (one process asks after reporting, below).
                var stopAsked = false
                if let parallel { (losses, stopAsked) = try parallel.average(losses, stop: shouldStop()) }
                if updateGenerator { average?.update(step: (iterations + 1) / options.nCritic) }
                if let bad = losses.first(where: { !$0.value.isFinite && !(recipe.generatorTerms.contains($0.name) && !updateGenerator) }) {
                    // The optimizers have already applied this step: saving now would overwrite
                    // the last good checkpoints with non-finite weights.
                    let at = counted == nil ? "epoch \(epoch), image \(images + b.images)" : "iteration \(iterations + 1)"
                    throw TrainingError(.diverged, "loss \(bad.name) became \(bad.value) at \(at): training diverged (--gan-mode \(options.ganMode.rawValue), --lr \(options.lr)); \(run.url.path) keeps the checkpoints saved before")
                }
                images += b.images
                batch += 1
                iterations += 1
                next = (epoch, b.order, b.position, images)
                lastBatch = b
                if counted != nil { try stepSchedules() }
                let record = LossRecord(epoch: counted == nil ? epoch : 1, iter: counted == nil ? images : iterations,
                                        lr: recipe.optimizers[0].optimizer.lr, losses: losses,
                                        seconds: Double(DispatchTime.now().uptimeNanoseconds - iterationStart) / 1e9)
                if writes { try log!.append(record) }
                logRecords += 1
                lastRecord = record
                report(.iteration(record, batch: counted == nil ? batch : iterations, batches: counted ?? batches))
                if counted != nil { try unitFinished(iterations, lastBatch: b.parts, dataState: b.randomState) }
                let stopping = parallel == nil ? shouldStop() : stopAsked
                guard stopping, !finished else { continue }
                if counted == nil && b.position >= b.order.count {
                    stopAtEnd = true  // after the epoch's checkpoints
                    continue
                }
                prefetcher.finish()
                try saveCheckpoint(dataState: b.randomState, interrupted: true)
                return .stopped(epoch: counted == nil ? epoch : 1, images: counted == nil ? images : iterations)
            }
            prefetcher.finish()
            // A whole pass that yielded nothing would repeat for ever; the rest of a resumed one may.
            guard lastBatch != nil || remaining == 0 || remaining < recipe.data.count else {
                throw TrainingError(.invalidSetting, "\(options.data): no item of the data could be read in epoch \(epoch) (\(skippedCount) skipped); the first: \(skipped.first ?? "?")")
            }
            if counted != nil {
                // A pass over the data is complete, or the run is: then `next` keeps its place.
                if !finished { next = (epoch + 1, nil, 0, 0) }
                continue
            }
            next = (epoch + 1, nil, 0, 0)
            try stepSchedules()
            try unitFinished(epoch, lastBatch: lastBatch?.parts, dataState: dataRandom.state)
            report(.epochFinished(epoch: epoch, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, last: lastRecord))
            if stopAtEnd && !finished {
                try saveCheckpoint(dataState: dataRandom.state, interrupted: true)
                return .stopped(epoch: epoch + 1, images: 0)
            }
        }
        if counted != nil {
            report(.epochFinished(epoch: 1, seconds: Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9, last: lastRecord))
        }
        return .finished
    }

    /// Whether the run has trained its whole length.
    var finished: Bool {
        switch recipe.length {
        case .epochs(let range): next.epoch > range.upperBound
        case .iterations(let n): iterations >= n
        }
    }

    /// The run's last unit (epoch or iteration).
    var lastUnit: Int {
        switch recipe.length {
        case .epochs(let range): range.upperBound
        case .iterations(let n): n
        }
    }

    /// The schedules' step after a unit (the reference's, after the epoch; StarGAN's, after each
    /// iteration), and the optimizers' rates from them.
    func stepSchedules() throws {
        for o in recipe.optimizers {
            guard let schedule = o.schedule else { continue }
            // Plateau watches the reference's self.metric, always 0.
            try schedule.step(metric: 0)
            o.optimizer.lr = schedule.lr
        }
    }

    /// The end of unit `n` (an epoch or an iteration): what the recipe's cadence asks for.
    func unitFinished(_ n: Int, lastBatch: [Tensor]?, dataState: [UInt64]) throws {
        let cadence = recipe.cadence, last = n == lastUnit
        if n % cadence.state == 0 || last { try saveCheckpoint(dataState: dataState, interrupted: false) }
        guard writes else { return }
        if n % cadence.numbered == 0 || (last && cadence.numberedAtEnd) {
            try recipe.saveNumbered(n, in: run)
            try average?.save(in: run, epoch: String(n))
        }
        if n % cadence.samples == 0 || last { try writeSamples(n, lastBatch: lastBatch) }
    }

    /// `latest_net_*` and the resumable state; on a stop, the recipe's numbered checkpoint too
    /// when it keeps one at the end of every session (StarGAN's `models/<iter>-*.ckpt`).
    func saveCheckpoint(dataState: [UInt64], interrupted: Bool) throws {
        try parallel?.checkReplicas(recipe.networks, after: iterations)
        guard writes else { return }
        try run.saveNetworks(recipe.networks, epoch: "latest")
        try average?.save(in: run, epoch: "latest")
        try saveState(dataState: dataState, interrupted: interrupted)
        if interrupted, recipe.cadence.numberedAtEnd { try recipe.saveNumbered(iterations, in: run) }
    }

    /// The sample grid of unit `n`, the loss curves and `index.html`.
    func writeSamples(_ n: Int, lastBatch: [Tensor]?) throws {
        let grid = if let average { try average.withAveragedWeights { try recipe.samples(lastBatch: lastBatch) } }
            else { try recipe.samples(lastBatch: lastBatch) }
        if let png = grid {
            try? FileManager.default.createDirectory(at: run.url.appendingPathComponent("samples"), withIntermediateDirectories: true)
            try run.write(png, to: RunIndex.samplePath(n, model: options.model))
        }
        try run.write(Data(LossCurves.svg(try LossLog.read(log!.url)).utf8), to: "loss_curves.svg")
        try RunIndex.update(runFolder: run.url, model: options.model, epochsTotal: lastUnit, finished: n == lastUnit)
    }

    /// The run folder's files, written when training starts: the folder, `config.yaml`, the
    /// recipe's own files and the loss log (a continued run keeps the lines its state counts).
    func start() throws {
        guard !started else { return }
        guard writes else {
            started = true
            return
        }
        let fresh = !options.continueTraining
        createdFolder = !FileManager.default.fileExists(atPath: run.url.path)
        try run.create(fresh: fresh, overwrite: options.overwrite)
        try run.write(Data(options.yaml.utf8), to: "config.yaml")
        for (name, contents) in recipe.startFiles { try run.write(Data(contents.utf8), to: name) }
        let url = run.url.appendingPathComponent("losses.jsonl")
        if fresh { try? FileManager.default.removeItem(at: url) }
        log = try LossLog(url: url)
        // An exact continuation has truncated the log to its state's lines; otherwise it is kept.
        if !restoredExactly { logRecords = (try? LossLog.read(url).count) ?? 0 }
        started = true
    }

    /// Undoes `start` for a fresh run that never trained.
    func removeStartFiles() {
        guard started, writes else { return }
        if createdFolder {
            try? FileManager.default.removeItem(at: run.url)
            return
        }
        for name in ["config.yaml", "losses.jsonl"] + recipe.startFiles.map(\.name) {
            try? FileManager.default.removeItem(at: run.url.appendingPathComponent(name))
        }
    }
}
