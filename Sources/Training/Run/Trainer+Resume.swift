import Checkpoints
import Engine
import Foundation
import Models
import Runs

/// `--continue`: exactly from `state.json` (any recipe), or from weights alone — a folder
/// PyTorch's `--continue_train` would take, or a saved epoch chosen with `--epoch N` — for
/// recipes counted in epochs.
extension Trainer {
    var stateURL: URL { ResumeState.url(run) }

    /// Loads the weights to continue from when there is no exact state to resume.
    func continueFromWeights() throws {
        guard recipe.continuesFromWeights else {
            throw TrainingError(.stateMismatch, "--continue: \(stateURL.path) does not exist (the run saved nothing yet); drop --continue to start a new run")
        }
        let epoch = options.epoch
        let generators = recipe.networks.map(\.name).filter { $0.hasPrefix("G") }
        for name in generators where !FileManager.default.fileExists(atPath: run.networkURL(epoch: epoch, name: name).path) {
            let saved = run.savedEpochs(network: name)
            throw TrainingError(.stateMismatch, "--continue: \(run.networkURL(epoch: epoch, name: name).path) does not exist; \(saved.isEmpty ? "drop --continue to start a new run" : "saved epochs: \(saved.map(String.init).joined(separator: ", "))")")
        }
        for (name, module) in recipe.networks {
            let file = run.networkURL(epoch: epoch, name: name)
            if !FileManager.default.fileExists(atPath: file.path) {
                // The published pretrained files hold generators only: fine-tuning starts D afresh.
                notes.append("no \(file.lastPathComponent): \(name) starts from freshly initialised weights")
                continue
            }
            notes += try run.load(module, name: name, from: file)
        }
        if let average {
            average.reset()
            for name in recipe.networks.map(\.name) where name.hasPrefix("G") {
                let file = run.networkURL(epoch: epoch, name: GeneratorAverage.name(name))
                if FileManager.default.fileExists(atPath: file.path) {
                    try average.load(name, from: file)
                } else {
                    notes.append("--ema: no \(file.lastPathComponent): the average of \(name) starts from its weights")
                }
            }
        }
        notes.append("continuing from the \(epoch == "latest" ? "latest" : "epoch \(epoch)") weights with fresh optimizer state\(FileManager.default.fileExists(atPath: stateURL.path) ? " (state.json resumes only from the latest)" : ""), at epoch \(next.epoch)")
    }

    /// An exact continuation: networks, optimizers, schedules, random generators, the recipe's
    /// own state, counters and the loss log, as `saveState` left them.
    func restore(_ state: ResumeState) throws {
        let path = stateURL.path
        guard state.model == options.model.rawValue else {
            throw TrainingError(.stateMismatch, "\(path): the run trained \(state.model), not \(options.model.rawValue)")
        }
        let count = recipe.data.count
        // An older DCGAN state at an epoch's end does not say how many images there were.
        guard state.dataset_count == count || state.format == 0 && state.order == nil else {
            throw TrainingError(.stateMismatch, "--continue: \(options.data) holds \(count) training items, \(state.dataset_count) when the run stopped; its data order does not fit the \(count) images now in --data: exact continuation needs the same data\(recipe.continuesFromWeights ? " (or continue from weights alone with --epoch N)" : "")")
        }
        if let order = state.order, order.contains(where: { !(0..<count).contains($0) }) {
            throw TrainingError(.unreadableState, "\(path): its epoch order names items outside the dataset")
        }
        for (name, module) in recipe.networks {
            guard let file = state.networks[name] else { throw TrainingError(.stateMismatch, "\(path): no weights for \(name)") }
            notes += try run.load(module, name: name, from: run.url.appendingPathComponent(file))
        }
        if let average {
            average.reset()
            for name in recipe.networks.map(\.name) where name.hasPrefix("G") {
                if let file = state.networks[GeneratorAverage.name(name)] {
                    try average.load(name, from: run.url.appendingPathComponent(file))
                } else {
                    notes.append("--ema: the run kept no average of \(name) until now; it starts from the saved weights")
                }
            }
        }
        let optimizers = Dictionary(uniqueKeysWithValues: recipe.optimizers.map { ($0.name, $0.optimizer) })
        try TrainingStateFile.load(from: run.url.appendingPathComponent(state.optimizers), optimizers: optimizers)
        let unitsDone = if case .iterations = recipe.length { state.iterations } else { max(0, state.epochs_done - options.epochCount + 1) }
        for o in recipe.optimizers {
            guard let schedule = o.schedule else { continue }
            if let saved = state.schedulers[o.name], schedule.restore(saved) {
                o.optimizer.lr = schedule.lr
                continue
            }
            // Changed epochs or policy, or a state without schedules: replay the schedule to where the run is.
            try schedule.replay(min(unitsDone, lastUnit))
            o.optimizer.lr = schedule.lr
            if o.name == "G", state.format != 0 {
                notes.append("the learning-rate schedule differs from the saved one: continuing on the new schedule at lr \(schedule.lr)")
            }
        }
        try dataRandom.restore(ResumeState.words(state.data_random, "data_random", path: path))
        try modelRandom.restore(ResumeState.words(state.model_random, "model_random", path: path))
        if let file = state.recipe_state ?? state.pools {
            let url = run.url.appendingPathComponent(file)
            let sd: StateDict
            do { sd = try Checkpoint.load(contentsOf: url).stateDict } catch {
                throw TrainingError(.unreadableState, "\(url.path): \(error)")
            }
            try recipe.restoreExtraState(sd, path: url.path)
        }
        if writes { try LossLog.truncate(run.url.appendingPathComponent("losses.jsonl"), toRecords: state.log_records) }
        logRecords = state.log_records
        restoredExactly = true
        next = (state.epoch, state.order, state.position, state.images_in_epoch)
        iterations = state.iterations
        (skipped, skippedCount) = (state.skipped, state.skipped_count)
        let threads = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
        if state.threads > 0, state.threads != threads {
            notes.append("the run was saved with \(state.threads) threads and continues with \(threads): convolution sums may round differently from an uninterrupted run")
        }
        if case .iterations = recipe.length {
            notes.append("continuing exactly after iteration \(state.iterations)")
        } else {
            notes.append(state.order == nil
                ? "continuing exactly at epoch \(state.epoch)"
                : "continuing exactly in epoch \(state.epoch) after \(state.images_in_epoch) of \(state.order!.count) images")
        }
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
        for name in recipe.networks.map(\.name) + (average?.names ?? []) {
            let relative = "resume/\(name).\(generation).pth"
            try run.link(run.networkURL(epoch: "latest", name: name), to: run.url.appendingPathComponent(relative))
            files[name] = relative
        }
        let optimizers = "resume/optimizers.\(generation).safetensors"
        try TrainingStateFile.save(optimizers: Dictionary(uniqueKeysWithValues: recipe.optimizers.map { ($0.name, $0.optimizer) }),
                                   to: run.url.appendingPathComponent(optimizers))
        var extra: String?
        if let sd = try recipe.extraState() {
            extra = "resume/recipe.\(generation).safetensors"
            do { try SafetensorsWriter.write(sd, to: run.url.appendingPathComponent(extra!)) } catch { throw TrainingError(.writeFailed, "\(error)") }
        }
        try log!.flush()
        var schedulers: [String: SavedScheduler] = [:]
        for o in recipe.optimizers { if let s = o.schedule { schedulers[o.name] = SavedScheduler(s) } }
        let state = ResumeState(
            model: options.model.rawValue, epochs_done: next.epoch - 1,
            interrupted: interrupted, iterations: iterations, epoch: next.epoch, position: next.position,
            images_in_epoch: next.images, order: next.order, dataset_count: recipe.data.count,
            data_random: ResumeState.hex(dataState), model_random: ResumeState.hex(modelRandom.state),
            log_records: logRecords, skipped: skipped, skipped_count: skippedCount,
            schedulers: schedulers, generation: generation, networks: files, optimizers: optimizers, recipe_state: extra,
            threads: options.threads ?? ProcessInfo.processInfo.activeProcessorCount,
            saved_at: ISO8601DateFormatter().string(from: Date()))
        try state.write(to: stateURL)
        // The commit is done; older generations' files are now unreferenced, and so are the
        // older trainers' optimizers.safetensors.
        let current = Set((Array(files.values) + [optimizers] + [extra].compactMap { $0 }).map { String($0.dropFirst("resume/".count)) })
        for file in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where !current.contains(file) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
        }
        try? FileManager.default.removeItem(at: run.url.appendingPathComponent("optimizers.safetensors"))
    }
}
