import Checkpoints
import Foundation
import Runs
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Saves and restores optimizers (Adam, RMSprop) and their learning-rate schedulers exactly, so training
/// that stops after a save and resumes from it computes bit for bit what it would have computed
/// without stopping. (Network weights are saved separately, as ordinary checkpoints.)
///
/// The format is one safetensors file, readable by any safetensors tool:
/// - tensors `<optimizer>/<buffer>/<parameter>` (F32, the parameter's shape; Adam's buffers are
///   `exp_avg` and `exp_avg_sq`, RMSprop's `square_avg`) for every parameter that has stepped
///   at least once;
/// - every scalar in the header's `__metadata__` under `gantry.training_state`: a JSON object
///   `{"format": 1, "optimizers": {name: {algorithm, lr, beta1, beta2, eps, weight_decay, alpha,
///   parameters: [{name, shape, step}]}}, "schedulers": {name: {policy, base_lr, last_epoch, lr, best,
///   num_bad_epochs, cooldown_counter}}}`. Doubles are JSON strings of Swift's shortest
///   round-trip decimal (exact, and able to say `inf` for plateau's initial best).
///
/// Writes go to a temporary file in the destination's folder, are flushed to disk, then renamed
/// over the destination, so a crash leaves the old file or the new one, never a partial one.
public enum TrainingStateFile {
    static let metadataKey = "gantry.training_state"
    static let formatVersion = 1

    /// Writes the state of `optimizers` and `schedulers`, keyed by the names given (e.g. "G", "D").
    ///
    /// - Throws: `TrainingError.writeFailed` when the file cannot be written,
    ///   `.invalidSetting` for a name containing "/".
    public static func save(optimizers: [String: any Optimizer], schedulers: [String: LearningRateScheduler] = [:],
                            to url: URL) throws(TrainingError) {
        var tensors = StateDict()
        var saved = SavedState(format: formatVersion, optimizers: [:], schedulers: [:])
        for (name, optimizer) in optimizers.sorted(by: { $0.key < $1.key }) {
            guard !name.contains("/"), !name.isEmpty else {
                throw TrainingError(.invalidSetting, "optimizer name '\(name)' must be non-empty and contain no '/'")
            }
            var parameters: [SavedParameter] = []
            for (i, (pname, v)) in optimizer.parameters.enumerated() {
                let state = optimizer.state(at: i)
                parameters.append(SavedParameter(name: pname, shape: v.data.shape, step: state?.step ?? 0))
                guard let state else { continue }
                for (buffer, values) in zip(optimizer.bufferNames, state.buffers) {
                    tensors["\(name)/\(buffer)/\(pname)"] = CheckpointTensor(shape: v.data.shape, values: values)
                }
            }
            var entry = SavedOptimizer(algorithm: optimizer.algorithm, lr: exact(optimizer.lr), parameters: parameters)
            for (setting, value) in optimizer.settings { entry[setting] = exact(value) }
            saved.optimizers[name] = entry
        }
        for (name, s) in schedulers { saved.schedulers[name] = SavedScheduler(s) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: String
        do {
            json = String(decoding: try encoder.encode(saved), as: UTF8.self)
        } catch {
            throw TrainingError(.writeFailed, "cannot encode the training state: \(error)")
        }
        // SafetensorsWriter publishes the file whole or not at all (AtomicFile).
        do { try SafetensorsWriter.write(tensors, to: url, metadata: [metadataKey: json]) } catch {
            throw TrainingError(.writeFailed, "\(url.path): cannot write the training state (\(error))", cause: error)
        }
    }

    /// Restores what `save` wrote into `optimizers` and `schedulers`, which must be the same set
    /// of names, parameters (by name, with the same shapes) and settings as when it was saved.
    ///
    /// Everything is checked before anything changes: on a thrown error nothing was restored.
    /// - Throws: `TrainingError.unreadableState` for a file that is not a readable state file,
    ///   `.stateMismatch` (naming the key and what differs) for one of another run.
    public static func load(from url: URL, optimizers: [String: any Optimizer],
                            schedulers: [String: LearningRateScheduler] = [:]) throws(TrainingError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TrainingError(.unreadableState, "\(url.path): cannot read the training state (\(error.localizedDescription))")
        }
        let saved = try readMetadata(data, path: url.path)
        let tensors: StateDict
        do {
            tensors = try Checkpoint.load(data: data, path: url.path).stateDict
        } catch {
            throw TrainingError(.unreadableState, "\(error)")
        }
        let plan = try StateRestorePlan(saved: saved, tensors: tensors, optimizers: optimizers,
                                        schedulers: schedulers, path: url.path)
        plan.apply()
    }

    /// The JSON scalars from the safetensors header's metadata.
    private static func readMetadata(_ data: Data, path: String) throws(TrainingError) -> SavedState {
        func unreadable(_ why: String) -> TrainingError {
            TrainingError(.unreadableState, "\(path): not a Gantry training state file: \(why)")
        }
        guard data.count >= 8 else { throw unreadable("only \(data.count) bytes") }
        let length = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(data.count - 8) else { throw unreadable("the safetensors header length \(length) exceeds the file") }
        let header = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(length)))
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw unreadable("the safetensors header is not a JSON object")
        }
        guard let json = (object["__metadata__"] as? [String: Any])?[metadataKey] as? String else {
            throw unreadable("its safetensors metadata has no '\(metadataKey)' entry")
        }
        let saved: SavedState
        do {
            saved = try JSONDecoder().decode(SavedState.self, from: Data(json.utf8))
        } catch {
            throw unreadable("its '\(metadataKey)' metadata is malformed (\(error))")
        }
        guard saved.format == formatVersion else {
            throw unreadable("format version \(saved.format); this Gantry reads version \(formatVersion)")
        }
        return saved
    }

    static func exact(_ value: Double) -> String { "\(value)" }
}

// MARK: - The JSON scalars

struct SavedState: Codable {
    var format: Int
    var optimizers: [String: SavedOptimizer]
    var schedulers: [String: SavedScheduler]
}

struct SavedOptimizer: Codable {
    /// nil in files written before RMSprop: Adam.
    var algorithm: String?
    var lr: String
    var beta1: String?
    var beta2: String?
    var eps: String?
    var weight_decay: String?
    var alpha: String?
    var parameters: [SavedParameter]

    init(algorithm: String, lr: String, parameters: [SavedParameter]) {
        (self.algorithm, self.lr, self.parameters) = (algorithm, lr, parameters)
    }

    /// A hyper-parameter by PyTorch's name.
    subscript(_ name: String) -> String? {
        get {
            switch name {
            case "beta1": beta1
            case "beta2": beta2
            case "eps": eps
            case "weight_decay": weight_decay
            case "alpha": alpha
            default: nil
            }
        }
        set {
            switch name {
            case "beta1": beta1 = newValue
            case "beta2": beta2 = newValue
            case "eps": eps = newValue
            case "weight_decay": weight_decay = newValue
            case "alpha": alpha = newValue
            default: break
            }
        }
    }
}

struct SavedParameter: Codable {
    var name: String
    var shape: [Int]
    var step: Int
}

struct SavedScheduler: Codable {
    var policy: [String: String]
    var base_lr: String
    var last_epoch: Int
    var lr: String
    var best: String
    var num_bad_epochs: Int
    var cooldown_counter: Int

    init(_ s: LearningRateScheduler) {
        policy = s.policy.settings
        base_lr = TrainingStateFile.exact(s.baseLR)
        last_epoch = s.lastEpoch
        lr = TrainingStateFile.exact(s.lr)
        best = TrainingStateFile.exact(s.best)
        num_bad_epochs = s.numBadEpochs
        cooldown_counter = s.cooldownCounter
    }
}

extension LearningRatePolicy {
    /// The policy as text fields, for the state file and for comparing with a saved one.
    var settings: [String: String] {
        let e = TrainingStateFile.exact
        switch self {
        case .linear(let n, let decay, let count):
            return ["name": "linear", "n_epochs": "\(n)", "n_epochs_decay": "\(decay)", "epoch_count": "\(count)"]
        case .step(let every, let gamma):
            return ["name": "step", "lr_decay_iters": "\(every)", "gamma": e(gamma)]
        case .cosine(let tMax, let etaMin):
            return ["name": "cosine", "t_max": "\(tMax)", "eta_min": e(etaMin)]
        case .starGAN(let numIters, let decay, let every):
            return ["name": "stargan", "num_iters": "\(numIters)", "num_iters_decay": "\(decay)", "lr_update_step": "\(every)"]
        case .plateau(let s):
            return ["name": "plateau", "mode": s.mode.rawValue, "factor": e(s.factor), "patience": "\(s.patience)",
                    "threshold": e(s.threshold), "threshold_mode": s.thresholdMode.rawValue, "cooldown": "\(s.cooldown)",
                    "min_lr": e(s.minLR), "eps": e(s.eps)]
        }
    }
}
