import Checkpoints
import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// What `tools/fixtures/make_optimizer_fixtures.py` recorded from torch (Tests/Fixtures/training).
enum TrainingFixtures {
    static let directory = fixturesDirectory.appendingPathComponent("training")

    struct AdamFile: Decodable, Sendable { let runs: [AdamRun] }

    struct AdamRun: Decodable, Sendable {
        struct Parameter: Decodable, Sendable { let name: String; let shape: [Int] }
        let name: String
        let steps: Int
        let lr: [Double]
        let betas: [Double]
        let eps: Double
        let weight_decay: Double
        let parameters: [Parameter]
        let final_step: [String: Int]
    }

    struct SchedulerFile: Decodable, Sendable { let cases: [SchedulerCase] }

    struct SchedulerCase: Decodable, Sendable {
        struct Settings: Decodable, Sendable {
            let policy: String
            let n_epochs: Int?, n_epochs_decay: Int?, epoch_count: Int?, lr_decay_iters: Int?
            let eta_min: Double?, mode: String?, threshold_mode: String?, threshold: Double?, factor: Double?
            let patience: Int?, cooldown: Int?, min_lr: Double?
        }
        let name: String
        let base_lr: Double
        let settings: Settings
        let steps: Int
        let lrs: [Double]
        let metrics: [Double]?

        /// The policy the case was generated with, in Gantry's terms (get_scheduler's defaults).
        var policy: LearningRatePolicy {
            let s = settings
            switch s.policy {
            case "linear": return .linear(nEpochs: s.n_epochs!, nEpochsDecay: s.n_epochs_decay!, epochCount: s.epoch_count!)
            case "step": return .step(decayEvery: s.lr_decay_iters!)
            case "cosine": return .cosine(tMax: s.n_epochs!, etaMin: s.eta_min ?? 0)
            default:
                return .plateau(PlateauSettings(
                    mode: s.mode == "max" ? .max : .min, factor: s.factor ?? 0.2, patience: s.patience ?? 5,
                    threshold: s.threshold ?? 0.01, thresholdMode: s.threshold_mode == "abs" ? .abs : .rel,
                    cooldown: s.cooldown ?? 0, minLR: s.min_lr ?? 0))
            }
        }
    }

    static let adam: AdamFile = decode("adam.json")
    static let schedulers: SchedulerFile = decode("schedulers.json")
    static let adamTensors: StateDict = try! Checkpoint.load(contentsOf: directory.appendingPathComponent("adam.safetensors")).stateDict

    static func run(_ name: String) -> AdamRun { adam.runs.first { $0.name == name }! }

    static func tensor(_ key: String) -> Tensor? {
        adamTensors[key].map { try! Tensor(shape: $0.shape, values: $0.values) }
    }

    private static func decode<T: Decodable>(_ file: String) -> T {
        try! JSONDecoder().decode(T.self, from: Data(contentsOf: directory.appendingPathComponent(file)))
    }
}

/// A fresh set of parameters at the run's initial values, and an Adam over them.
func makeAdam(_ run: TrainingFixtures.AdamRun) throws -> Adam {
    let parameters = run.parameters.map { p in
        (name: p.name, variable: Variable(try! TrainingFixtures.tensor("\(run.name)/init/\(p.name)")!.copy(), requiresGrad: true))
    }
    return try Adam(parameters: parameters, lr: run.lr[0], betas: (run.betas[0], run.betas[1]), eps: run.eps,
                    weightDecay: run.weight_decay)
}

/// Step `step` (1-based) of the run: its gradients (nil where torch had None) and its lr.
func applyStep(_ step: Int, of run: TrainingFixtures.AdamRun, to adam: Adam) throws {
    adam.zeroGrad()
    for (name, v) in adam.parameters { v.grad = TrainingFixtures.tensor("\(run.name)/grad/\(step)/\(name)") }
    adam.lr = run.lr[step - 1]
    try adam.step()
}

/// max |a − b| / max |b| over a tensor: error relative to the tensor's scale, so entries that
/// pass through zero (a bias starting at 0) are judged against their neighbours' size.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0, scale = 0.0
    for (x, y) in zip(a, b) {
        diff = max(diff, abs(Double(x) - Double(y)))
        scale = max(scale, abs(Double(y)))
    }
    return diff / max(scale, 1e-30)
}

/// Bit patterns, so "equal" means bit for bit (and NaN equals NaN).
func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// Reads a state file's `gantry.training_state` metadata back (for building broken files).
func stateMetadata(_ url: URL) throws -> String {
    let data = try Data(contentsOf: url)
    let length = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
    return (header["__metadata__"] as! [String: String])["gantry.training_state"]!
}
