import Checkpoints
import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// Loading a state file that is damaged or belongs to another run throws a `TrainingError`
/// naming the key and what is wrong, and restores nothing.
struct StateFileErrorTests {
    private let directory: TemporaryDirectory
    private let url: URL

    init() throws {
        directory = try TemporaryDirectory()
        url = directory.url.appendingPathComponent("state.safetensors")
        let (a, b) = (Variable(randomTensor([2, 3], seed: 1), requiresGrad: true), Variable(randomTensor([4], seed: 2), requiresGrad: true))
        let adam = try Adam(parameters: [("w", a), ("b", b)])
        for k in 0..<2 {
            a.grad = randomTensor([2, 3], seed: 10 + UInt64(k))
            b.grad = randomTensor([4], seed: 20 + UInt64(k))
            try adam.step()
        }
        let scheduler = try LearningRateScheduler(policy: .linear(nEpochs: 5, nEpochsDecay: 5, epochCount: 1), baseLR: 2e-4)
        try scheduler.step()
        try TrainingStateFile.save(optimizers: ["G": adam], schedulers: ["G": scheduler], to: url)
    }

    private func adam(_ parameters: [(String, [Int])], betas: (Double, Double) = (0.5, 0.999)) throws -> Adam {
        try Adam(parameters: parameters.map { ($0.0, Variable(try Tensor(zeros: $0.1), requiresGrad: true)) }, betas: betas)
    }

    private func linear() throws -> LearningRateScheduler {
        try LearningRateScheduler(policy: .linear(nEpochs: 5, nEpochsDecay: 5, epochCount: 1), baseLR: 2e-4)
    }

    /// Loads into `adam` (and a matching scheduler unless given) and returns the error.
    private func loadError(_ adam: Adam, name: String = "G", schedulers: [String: LearningRateScheduler]? = nil,
                           from file: URL? = nil) throws -> TrainingError {
        let schedulers = try schedulers ?? ["G": linear()]
        let error = try #require(throws: TrainingError.self) {
            try TrainingStateFile.load(from: file ?? url, optimizers: [name: adam], schedulers: schedulers)
        }
        // Nothing restored: no moments, lr untouched.
        #expect(adam.parameters.allSatisfy { adam.state(of: $0.name) == nil })
        #expect(adam.lr == 2e-4)
        return error
    }

    @Test func theMatchingRunLoads() throws {
        let target = try adam([("w", [2, 3]), ("b", [4])])
        try TrainingStateFile.load(from: url, optimizers: ["G": target], schedulers: ["G": linear()])
        #expect(target.state(of: "w")?.step == 2)
    }

    @Test func missingParameter() throws {
        let error = try loadError(try adam([("w", [2, 3]), ("bias", [4])]))
        #expect(error.code == .stateMismatch)
        #expect(error.message.contains("'bias'") && error.message.contains("missing"), "\(error)")
    }

    @Test func wrongShape() throws {
        let error = try loadError(try adam([("w", [3, 2]), ("b", [4])]))
        #expect(error.code == .stateMismatch)
        #expect(error.message.contains("'w'") && error.message.contains("[2, 3]") && error.message.contains("[3, 2]"), "\(error)")
    }

    @Test func differentParameterCount() throws {
        let error = try loadError(try adam([("w", [2, 3]), ("b", [4]), ("extra", [1])]))
        #expect(error.code == .stateMismatch)
        #expect(error.message.contains("2 parameters") && error.message.contains("has 3"), "\(error)")
        let fewer = try loadError(try adam([("w", [2, 3])]))
        #expect(fewer.message.contains("2 parameters") && fewer.message.contains("has 1"), "\(fewer)")
    }

    @Test func differentOptimizerSettingsOrNames() throws {
        let betas = try loadError(try adam([("w", [2, 3]), ("b", [4])], betas: (0.9, 0.999)))
        #expect(betas.message.contains("beta1"), "\(betas)")
        let name = try loadError(try adam([("w", [2, 3]), ("b", [4])]), name: "D")
        #expect(name.message.contains("no optimizer 'D'"), "\(name)")
    }

    @Test func differentSchedulerPolicy() throws {
        let cosine = try LearningRateScheduler(policy: .cosine(tMax: 5), baseLR: 2e-4)
        let error = try loadError(try adam([("w", [2, 3]), ("b", [4])]), schedulers: ["G": cosine])
        #expect(error.message.contains("scheduler 'G'") && error.message.contains("linear") && error.message.contains("cosine"), "\(error)")
        #expect(cosine.lastEpoch == 0)
        let missing = try loadError(try adam([("w", [2, 3]), ("b", [4])]), schedulers: [:])
        #expect(missing.message.contains("scheduler 'G'"), "\(missing)")
    }

    @Test func truncatedOrForeignFiles() throws {
        let bytes = try Data(contentsOf: url)
        let cases: [(String, Data)] = [
            ("truncated", bytes.prefix(bytes.count - 10)),
            ("header cut", bytes.prefix(20)),
            ("empty", Data()),
            ("garbage", Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) })),
            // A real safetensors file, but not a state file.
            ("plain safetensors", try Data(contentsOf: TrainingFixtures.directory.appendingPathComponent("adam.safetensors"))),
        ]
        for (name, data) in cases {
            let file = directory.url.appendingPathComponent(name)
            try data.write(to: file)
            let error = try loadError(try adam([("w", [2, 3]), ("b", [4])]), from: file)
            #expect(error.code == .unreadableState, "\(name): \(error)")
        }
        let error = try loadError(try adam([("w", [2, 3]), ("b", [4])]), from: directory.url.appendingPathComponent("absent"))
        #expect(error.code == .unreadableState)
    }

    /// Rewrites the state file with changed tensors and/or metadata.
    private func rewritten(_ name: String, metadata edit: (String) -> String = { $0 },
                           tensors change: (inout StateDict) -> Void = { _ in }) throws -> URL {
        var tensors = try Checkpoint.load(contentsOf: url).stateDict
        change(&tensors)
        let file = directory.url.appendingPathComponent(name)
        try SafetensorsWriter.write(tensors, to: file, metadata: ["gantry.training_state": edit(try stateMetadata(url))])
        return file
    }

    @Test func damagedContents() throws {
        let target = { try self.adam([("w", [2, 3]), ("b", [4])]) }
        let negative = try rewritten("negative", tensors: { $0["G/exp_avg_sq/b"] = CheckpointTensor(shape: [4], values: [1, -1, 0, 2]) })
        let e1 = try loadError(try target(), from: negative)
        #expect(e1.message.contains("G/exp_avg_sq/b") && e1.message.contains("-1"), "\(e1)")

        let shape = try rewritten("shape", tensors: { $0["G/exp_avg/w"] = CheckpointTensor(shape: [6], values: Array(repeating: 0, count: 6)) })
        let e2 = try loadError(try target(), from: shape)
        #expect(e2.message.contains("G/exp_avg/w") && e2.message.contains("[6]"), "\(e2)")

        let missing = try rewritten("missing", tensors: { $0.removeValue(forKey: "G/exp_avg/b") })
        let e3 = try loadError(try target(), from: missing)
        #expect(e3.message.contains("G/exp_avg/b") && e3.message.contains("missing"), "\(e3)")

        let extra = try rewritten("extra", tensors: { $0["G/exp_avg/ghost"] = CheckpointTensor(shape: [1], values: [0]) })
        let e4 = try loadError(try target(), from: extra)
        #expect(e4.message.contains("G/exp_avg/ghost"), "\(e4)")

        let json = try rewritten("json", metadata: { String($0.dropLast(5)) })
        let e5 = try loadError(try target(), from: json)
        #expect(e5.code == .unreadableState && e5.message.contains("malformed"), "\(e5)")

        let lr = try rewritten("lr", metadata: { $0.replacingOccurrences(of: "\"lr\":\"", with: "\"lr\":\"x") })
        let e6 = try loadError(try target(), from: lr)
        #expect(e6.message.contains("lr") && e6.message.contains("not a number"), "\(e6)")
    }
}
