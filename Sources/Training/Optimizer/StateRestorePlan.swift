import Checkpoints
import Runs

/// A saved training state checked against the optimizers and schedulers it is to be loaded into,
/// holding what to restore. Building it validates everything; `apply()` cannot fail, so a load
/// either restores all of the state or none of it.
struct StateRestorePlan {
    private var changes: [() -> Void] = []

    init(saved: SavedState, tensors: StateDict, optimizers: [String: any Optimizer],
         schedulers: [String: LearningRateScheduler], path: String) throws(TrainingError) {
        func mismatch(_ message: String) -> TrainingError { TrainingError(.stateMismatch, "\(path): \(message)") }
        func corrupt(_ message: String) -> TrainingError { TrainingError(.unreadableState, "\(path): \(message)") }
        func number(_ text: String, _ what: String) throws(TrainingError) -> Double {
            guard let value = Double(text) else { throw corrupt("\(what) '\(text.prefix(40))' is not a number") }
            return value
        }

        try Self.sameNames("optimizer", Set(saved.optimizers.keys), Set(optimizers.keys), mismatch)
        try Self.sameNames("scheduler", Set(saved.schedulers.keys), Set(schedulers.keys), mismatch)

        var usedTensors = 0
        for (name, optimizer) in optimizers.sorted(by: { $0.key < $1.key }) {
            let s = saved.optimizers[name]!
            let algorithm = s.algorithm ?? "adam"
            guard algorithm == optimizer.algorithm else {
                throw mismatch("optimizer '\(name)' was saved as \(algorithm), this run uses \(optimizer.algorithm)")
            }
            for (what, current) in optimizer.settings {
                guard let text = s[what] else { throw corrupt("optimizer '\(name)' has no \(what)") }
                let value = try number(text, "optimizer '\(name)' \(what)")
                guard value == current else { throw mismatch("optimizer '\(name)' was saved with \(what) \(value), this run uses \(current)") }
            }
            let lr = try number(s.lr, "optimizer '\(name)' lr")
            guard s.parameters.count == optimizer.parameters.count else {
                throw mismatch("optimizer '\(name)': the file has state for \(s.parameters.count) parameters, this optimizer has \(optimizer.parameters.count)")
            }
            var byName: [String: SavedParameter] = [:]
            for p in s.parameters {
                guard byName.updateValue(p, forKey: p.name) == nil else { throw corrupt("optimizer '\(name)' lists parameter '\(p.name)' twice") }
            }
            var states: [(step: Int, buffers: [[Float]])?] = []
            for (pname, variable) in optimizer.parameters {
                guard let p = byName[pname] else { throw mismatch("optimizer '\(name)': parameter '\(pname)' is missing from the file") }
                guard p.shape == variable.data.shape else {
                    throw mismatch("optimizer '\(name)': parameter '\(pname)' has shape \(p.shape) in the file but \(variable.data.shape) here")
                }
                guard p.step >= 0 else { throw corrupt("optimizer '\(name)': parameter '\(pname)' has a negative step count \(p.step)") }
                let keys = optimizer.bufferNames.map { "\(name)/\($0)/\(pname)" }
                guard p.step > 0 else {
                    for key in keys where tensors[key] != nil { throw corrupt("tensor '\(key)' is present but parameter '\(pname)' never stepped") }
                    states.append(nil)
                    continue
                }
                var buffers: [[Float]] = []
                for key in keys {
                    guard let t = tensors[key] else { throw mismatch("tensor '\(key)' is missing (parameter '\(pname)' has \(p.step) steps)") }
                    guard t.shape == p.shape, t.dtype == .float32 else {
                        throw mismatch("tensor '\(key)' is \(t.dtype.rawValue) \(t.shape); expected float32 \(p.shape)")
                    }
                    buffers.append(t.values)
                }
                // A negative or NaN mean of squares would turn every later update into NaN.
                if let bad = buffers.last!.first(where: { !($0 >= 0) }) {
                    throw corrupt("tensor '\(keys.last!)' holds \(bad); a second moment is never negative or NaN")
                }
                usedTensors += buffers.count
                states.append((p.step, buffers))
            }
            changes.append {
                optimizer.lr = lr
                optimizer.restore(states)
            }
        }
        if usedTensors != tensors.count {
            let expected = Set(optimizers.flatMap { name, optimizer in
                optimizer.parameters.flatMap { p in optimizer.bufferNames.map { "\(name)/\($0)/\(p.name)" } }
            })
            let extra = tensors.keys.first { !expected.contains($0) } ?? "?"
            throw mismatch("tensor '\(extra)' belongs to no parameter of these optimizers")
        }

        for (name, scheduler) in schedulers {
            let s = saved.schedulers[name]!
            let current = scheduler.policy.settings
            guard s.policy == current else {
                throw mismatch("scheduler '\(name)' was saved with policy \(Self.describe(s.policy)), this run uses \(Self.describe(current))")
            }
            let baseLR = try number(s.base_lr, "scheduler '\(name)' base_lr")
            guard baseLR == scheduler.baseLR else {
                throw mismatch("scheduler '\(name)' was saved with base lr \(baseLR), this run uses \(scheduler.baseLR)")
            }
            let lr = try number(s.lr, "scheduler '\(name)' lr"), best = try number(s.best, "scheduler '\(name)' best")
            guard s.last_epoch >= 0, s.num_bad_epochs >= 0, s.cooldown_counter >= 0 else {
                throw corrupt("scheduler '\(name)' has a negative counter")
            }
            changes.append {
                scheduler.lastEpoch = s.last_epoch
                scheduler.lr = lr
                scheduler.best = best
                scheduler.numBadEpochs = s.num_bad_epochs
                scheduler.cooldownCounter = s.cooldown_counter
            }
        }
    }

    func apply() {
        for change in changes { change() }
    }

    private static func sameNames(_ kind: String, _ inFile: Set<String>, _ here: Set<String>,
                                  _ mismatch: (String) -> TrainingError) throws(TrainingError) {
        if let missing = here.subtracting(inFile).sorted().first {
            throw mismatch("the file has no \(kind) '\(missing)' (it has: \(inFile.sorted().joined(separator: ", ")))")
        }
        if let extra = inFile.subtracting(here).sorted().first {
            throw mismatch("the file has a \(kind) '\(extra)' that this run does not (this run has: \(here.sorted().joined(separator: ", ")))")
        }
    }

    private static func describe(_ settings: [String: String]) -> String {
        let name = settings["name"] ?? "?"
        let rest = settings.filter { $0.key != "name" }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        return "\(name)(\(rest.joined(separator: ", ")))"
    }
}
