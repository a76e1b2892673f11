import Checkpoints
import Engine
import Foundation
import Runs
import TestSupport
import Testing
import Training

/// Save → load → continue must equal never stopping, bit for bit; a file from another run must be
/// refused with a message naming what differs, and leave the optimizer untouched.
struct TrainingStateTests {
    /// Parameters, moments and step counts of an Adam, as bits.
    private func snapshot(_ adam: Adam) -> [String: [UInt32]] {
        var out: [String: [UInt32]] = ["lr": [UInt32(truncatingIfNeeded: adam.lr.bitPattern)]]
        for (name, v) in adam.parameters {
            out["param/\(name)"] = bits(v.data.values)
            if let s = adam.state(of: name) {
                out["state/\(name)"] = [UInt32(s.step)] + bits(s.expAvg) + bits(s.expAvgSq)
            }
        }
        return out
    }

    /// A new Adam over copies of `adam`'s current parameter values (the network checkpoint's job).
    private func freshAdam(like adam: Adam, run: TrainingFixtures.AdamRun) throws -> Adam {
        let parameters = try adam.parameters.map { (name: $0.name, variable: Variable(try $0.variable.data.copy(), requiresGrad: true)) }
        return try Adam(parameters: parameters, lr: 1, betas: (run.betas[0], run.betas[1]), eps: run.eps, weightDecay: run.weight_decay)
    }

    // "sometimes" has no state after step 1 and a gap at steps 7–9: both save points matter.
    @Test(arguments: [1, 8, 19])
    func adamResumesBitForBit(_ stopAfter: Int) throws {
        let directory = try TemporaryDirectory()
        for run in TrainingFixtures.adam.runs {
            let straight = try makeAdam(run)
            for step in 1...run.steps { try applyStep(step, of: run, to: straight) }

            let first = try makeAdam(run)
            for step in 1...stopAfter { try applyStep(step, of: run, to: first) }
            let url = directory.url.appendingPathComponent("\(run.name).state")
            try TrainingStateFile.save(optimizers: ["G": first], to: url)
            let resumed = try freshAdam(like: first, run: run)
            try TrainingStateFile.load(from: url, optimizers: ["G": resumed])
            #expect(snapshot(resumed) == snapshot(first))
            for step in (stopAfter + 1)...run.steps { try applyStep(step, of: run, to: resumed) }
            #expect(snapshot(resumed) == snapshot(straight), "\(run.name) resumed after step \(stopAfter)")
        }
    }

    @Test func everySchedulerResumesBitForBit() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("schedulers.state")
        for c in TrainingFixtures.schedulers.cases {
            for stopAfter in [0, 3, c.steps / 2] {
                let straight = try LearningRateScheduler(policy: c.policy, baseLR: c.base_lr)
                var expected: [UInt64] = []
                for k in 0..<c.steps {
                    try straight.step(metric: c.metrics?[k])
                    if k >= stopAfter { expected.append(straight.lr.bitPattern) }
                }
                let first = try LearningRateScheduler(policy: c.policy, baseLR: c.base_lr)
                for k in 0..<stopAfter { try first.step(metric: c.metrics?[k]) }
                try TrainingStateFile.save(optimizers: [:], schedulers: ["G": first], to: url)
                let resumed = try LearningRateScheduler(policy: c.policy, baseLR: c.base_lr)
                try TrainingStateFile.load(from: url, optimizers: [:], schedulers: ["G": resumed])
                #expect(resumed.lastEpoch == first.lastEpoch && resumed.numBadEpochs == first.numBadEpochs)
                #expect(resumed.best.bitPattern == first.best.bitPattern && resumed.cooldownCounter == first.cooldownCounter)
                var got: [UInt64] = []
                for k in stopAfter..<c.steps {
                    try resumed.step(metric: c.metrics?[k])
                    got.append(resumed.lr.bitPattern)
                }
                #expect(got == expected, "\(c.name) resumed after \(stopAfter) steps")
            }
        }
    }

    @Test func twoOptimizersAndTwoSchedulersInOneFile() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("state.safetensors")
        let run = TrainingFixtures.run("reference")
        let (g, d) = (try makeAdam(run), try makeAdam(run))
        for step in 1...3 { try applyStep(step, of: run, to: g) }
        try applyStep(1, of: run, to: d)
        let (sg, sd) = (try LearningRateScheduler(policy: .cosine(tMax: 6), baseLR: 2e-4),
                        try LearningRateScheduler(policy: .plateau, baseLR: 2e-4))
        try sg.step()
        try sd.step(metric: 0)
        try TrainingStateFile.save(optimizers: ["G": g, "D": d], schedulers: ["G": sg, "D": sd], to: url)
        // Readable by the ordinary checkpoint reader too: a plain safetensors file.
        let keys = try Checkpoint.load(contentsOf: url).stateDict.keys
        #expect(keys.contains("G/exp_avg/net.0.weight") && keys.contains("D/exp_avg_sq/large"))

        let (g2, d2) = (try freshAdam(like: g, run: run), try freshAdam(like: d, run: run))
        let (sg2, sd2) = (try LearningRateScheduler(policy: .cosine(tMax: 6), baseLR: 2e-4),
                          try LearningRateScheduler(policy: .plateau, baseLR: 2e-4))
        try TrainingStateFile.load(from: url, optimizers: ["D": d2, "G": g2], schedulers: ["G": sg2, "D": sd2])
        #expect(snapshot(g2) == snapshot(g) && snapshot(d2) == snapshot(d))
        #expect(g2.state(of: "net.0.bias")?.step == 3 && d2.state(of: "net.0.bias")?.step == 1)
        #expect(sg2.lr == sg.lr && sd2.best == 0 && sd2.lastEpoch == 1)
    }

    @Test func writesAtomicallyAndLeavesNoTemporaryFiles() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("opt.state")
        let adam = try makeAdam(TrainingFixtures.run("reference"))
        try TrainingStateFile.save(optimizers: ["G": adam], to: url)
        try applyStep(1, of: TrainingFixtures.run("reference"), to: adam)
        try TrainingStateFile.save(optimizers: ["G": adam], to: url)   // replaces the old file
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["opt.state"])
        let missing = directory.url.appendingPathComponent("no/such/folder/opt.state")
        let error = try #require(throws: TrainingError.self) { try TrainingStateFile.save(optimizers: ["G": adam], to: missing) }
        #expect(error.code == .writeFailed)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["opt.state"])
    }
}
