import Checkpoints
import Engine
import Foundation
import Models

/// `--continue`: exactly from Gantry's `state.json`, or from weights alone — a folder PyTorch's
/// `--continue_train` would take, or a saved epoch chosen with `--epoch N`.
extension Trainer {
    var stateURL: URL { run.url.appendingPathComponent("state.json") }

    /// Loads the networks to continue from. Returns the first epoch to train when continuing
    /// from weights alone, nil when `state.json` will restore everything (`restoreExactState`).
    func continueFromRunFolder() throws -> Int? {
        let exact = options.epoch == "latest" && FileManager.default.fileExists(atPath: stateURL.path)
        if exact {
            let state = try ResumeState.read(stateURL)
            guard state.model == options.model.rawValue else {
                throw TrainingError(.stateMismatch, "\(stateURL.path): the run trained \(state.model), not \(options.model.rawValue)")
            }
            for (name, module) in networks {
                guard let file = state.networks[name] else {
                    throw TrainingError(.stateMismatch, "\(stateURL.path): no weights for \(name)")
                }
                try load(module, name: name, from: run.url.appendingPathComponent(file))
            }
            return nil
        }
        let epoch = options.epoch
        let gNames = generators.map(\.name)
        for name in gNames where !FileManager.default.fileExists(atPath: run.networkURL(epoch: epoch, name: name).path) {
            let saved = run.savedEpochs(network: name)
            throw TrainingError(.stateMismatch, "--continue: \(run.networkURL(epoch: epoch, name: name).path) does not exist; \(saved.isEmpty ? "drop --continue to start a new run" : "saved epochs: \(saved.map(String.init).joined(separator: ", "))")")
        }
        for (name, module) in networks {
            let file = run.networkURL(epoch: epoch, name: name)
            if !FileManager.default.fileExists(atPath: file.path) {
                // The published pretrained files hold generators only: fine-tuning starts D afresh.
                notes.append("no \(file.lastPathComponent): \(name) starts from freshly initialised weights")
                continue
            }
            try load(module, name: name, from: file)
        }
        var start = options.epochCount
        if let n = Int(epoch), options.epochCount == 1 { start = n + 1 }
        notes.append("continuing from the \(epoch == "latest" ? "latest" : "epoch \(epoch)") weights with fresh optimizer state\(FileManager.default.fileExists(atPath: stateURL.path) ? " (state.json resumes only from the latest)" : ""), at epoch \(start)")
        return start
    }

    private func load(_ module: Module, name: String, from file: URL) throws {
        do {
            let checkpoint = try Checkpoint.load(contentsOf: file)
            notes += try module.loadStrictly(checkpoint.stateDict, network: "net_\(name)").map { "\(file.lastPathComponent): \($0)" }
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError(.stateMismatch, "\(file.path): \(error)")
        }
    }

    /// The rest of an exact continuation: optimizers, schedules, random generators, image pools,
    /// counters and the loss log, as `saveState` left them.
    func restoreExactState() throws {
        guard options.epoch == "latest", FileManager.default.fileExists(atPath: stateURL.path) else { return }
        let state = try ResumeState.read(stateURL)
        guard state.dataset_count == dataset.count else {
            throw TrainingError(.stateMismatch, "--continue: \(options.data) holds \(dataset.count) training items, \(state.dataset_count) when the run stopped; exact continuation needs the same data (or continue from weights alone with --epoch N)")
        }
        if let order = state.order, order.contains(where: { !(0..<dataset.count).contains($0) }) {
            throw TrainingError(.unreadableState, "\(stateURL.path): its epoch order names items outside the dataset")
        }
        try TrainingStateFile.load(from: run.url.appendingPathComponent(state.optimizers),
                                   optimizers: ["G": optimizerG, "D": optimizerD])
        for (name, scheduler) in [("G", schedulerG!), ("D", schedulerD!)] {
            guard let saved = state.schedulers[name], scheduler.restore(saved) else {
                // Changed epochs or policy: replay the new schedule up to where the run is.
                for _ in 0..<min(max(0, state.epochs_done - options.epochCount + 1), epochs.upperBound) {
                    try scheduler.step(metric: options.lrPolicy == .plateau ? 0 : nil)
                }
                if name == "G" { notes.append("the learning-rate schedule differs from the saved one: continuing on the new schedule at lr \(scheduler.lr)") }
                continue
            }
        }
        optimizerG.lr = schedulerG.lr
        optimizerD.lr = schedulerD.lr
        try dataRandom.restore(ResumeState.words(state.data_random, "data_random", path: stateURL.path))
        try modelRandom.restore(ResumeState.words(state.model_random, "model_random", path: stateURL.path))
        if let cyclegan, let pools = state.pools {
            try PoolFile.load(run.url.appendingPathComponent(pools), into: [("fake_A", cyclegan.fakeAPool), ("fake_B", cyclegan.fakeBPool)])
        }
        let logURL = run.url.appendingPathComponent("losses.jsonl")
        try LossLog.truncate(logURL, toRecords: state.log_records)
        log = try LossLog(url: logURL)
        logRecords = state.log_records
        next = (state.epoch, state.order, state.position, state.images_in_epoch)
        iterations = state.iterations
        (skipped, skippedCount) = (state.skipped, state.skipped_count)
        let threads = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
        if state.threads != threads {
            notes.append("the run was saved with \(state.threads) threads and continues with \(threads): convolution sums may round differently from an uninterrupted run")
        }
        notes.append(state.order == nil
            ? "continuing exactly at epoch \(state.epoch)"
            : "continuing exactly in epoch \(state.epoch) after \(state.images_in_epoch) of \(state.order!.count) images")
    }

    /// Writes a state `--continue` resumes from exactly (the `latest_net_*` files must be the
    /// networks as they are now). See `ResumeState` for why the order of writes is safe.
    func saveState(dataState: [UInt64], interrupted: Bool) throws {
        let generation = String(UUID().uuidString.prefix(8)).lowercased()
        let folder = run.url.appendingPathComponent("resume")
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw TrainingError(.writeFailed, "\(folder.path): cannot create (\(error.localizedDescription))")
        }
        var files: [String: String] = [:]
        for (name, _) in networks {
            let relative = "resume/\(name).\(generation).pth"
            try run.link(run.networkURL(epoch: "latest", name: name), to: run.url.appendingPathComponent(relative))
            files[name] = relative
        }
        let optimizers = "resume/optimizers.\(generation).safetensors"
        try TrainingStateFile.save(optimizers: ["G": optimizerG, "D": optimizerD], to: run.url.appendingPathComponent(optimizers))
        var pools: String?
        if let cyclegan, options.poolSize > 0 {
            pools = "resume/pools.\(generation).safetensors"
            try PoolFile.save([("fake_A", cyclegan.fakeAPool), ("fake_B", cyclegan.fakeBPool)], to: run.url.appendingPathComponent(pools!))
        }
        try log.flush()
        let state = ResumeState(
            model: options.model.rawValue, epochs_done: next.epoch - 1,
            interrupted: interrupted, iterations: iterations, epoch: next.epoch, position: next.position,
            images_in_epoch: next.images, order: next.order, dataset_count: dataset.count,
            data_random: ResumeState.hex(dataState), model_random: ResumeState.hex(modelRandom.state),
            log_records: logRecords, skipped: skipped, skipped_count: skippedCount,
            schedulers: ["G": SavedScheduler(schedulerG), "D": SavedScheduler(schedulerD)], generation: generation,
            networks: files, optimizers: optimizers, pools: pools,
            threads: options.threads ?? ProcessInfo.processInfo.activeProcessorCount,
            saved_at: ISO8601DateFormatter().string(from: Date()))
        try state.write(to: stateURL)
        // The commit is done; older generations' files are now unreferenced.
        let current = Set(files.values.map { String($0.dropFirst("resume/".count)) } + [optimizers, pools].compactMap { $0?.dropFirst("resume/".count) }.map(String.init))
        for file in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where !current.contains(file) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
        }
    }
}
