import Checkpoints
import Engine
import Foundation
import Models
import Runs

/// `--ema DECAY`: an exponential moving average of each generator's parameters, kept beside the
/// weights the optimizers train (as StyleGAN keeps G_ema). A GAN's generator swings from
/// iteration to iteration as it and the discriminator chase each other; the average settles
/// where the swings centre, so the model a run hands over does not depend on which iteration
/// happened to end it.
///
/// After the `t`-th generator step each averaged parameter becomes `β·avg + (1 − β)·w` with
/// `β = min(DECAY, (1 + t) / (10 + t))` — TensorFlow's `ExponentialMovingAverage` with
/// `num_updates` — so the first steps do not keep the random initialisation for thousands of
/// iterations. Buffers (BatchNorm's running statistics) are the trained network's own, as
/// StyleGAN copies them. Saved as `<epoch>_net_<G>_ema.pth` (and `.safetensors`) with the same keys
/// as the generator, so PyTorch loads it into the reference network unchanged.
final class GeneratorAverage {
    let decay: Double
    /// Per generator: its name (G, G_A, G_B), the module, and the averaged parameters in the
    /// order of `module.parameters()`.
    private var entries: [(name: String, module: Module, parameters: [(key: String, variable: Variable)], average: [[Float]])]

    init(decay: Double, generators: [(name: String, module: Module)]) {
        self.decay = decay
        entries = generators.map { g in
            let parameters = g.module.parameters().map { (key: $0.name, variable: $0.variable) }
            return (g.name, g.module, parameters, parameters.map { $0.variable.data.values })
        }
    }

    /// The averaged networks' names (`G_ema`, …), as the run folder and the resume state spell them.
    var names: [String] { entries.map { Self.name($0.name) } }
    static func name(_ generator: String) -> String { generator + "_ema" }

    /// Folds in the generators' weights after generator step number `step` (counted from 1).
    func update(step: Int) {
        let t = Double(max(step - 1, 0))
        let beta = Float(min(decay, (1 + t) / (10 + t))), alpha = 1 - beta
        for e in entries.indices {
            for p in entries[e].parameters.indices {
                entries[e].parameters[p].variable.data.withUnsafeBufferPointer { w in
                    entries[e].average[p].withUnsafeMutableBufferPointer { a in
                        for i in 0..<a.count { a[i] = beta * a[i] + alpha * w[i] }
                    }
                }
            }
        }
    }

    /// Starts the averages again from the generators' current weights.
    func reset() {
        for e in entries.indices { entries[e].average = entries[e].parameters.map { $0.variable.data.values } }
    }

    /// The averaged generator `index` as a state dict: the module's, parameters replaced.
    private func stateDict(_ index: Int) -> StateDict {
        var sd = entries[index].module.stateDict()
        for (p, a) in zip(entries[index].parameters, entries[index].average) {
            sd[p.key] = CheckpointTensor(shape: p.variable.data.shape, values: a)
        }
        return sd
    }

    /// Writes `<epoch>_net_<G>_ema.pth` and `.safetensors` for every generator.
    func save(in run: RunFolder, epoch: String) throws {
        for (i, e) in entries.enumerated() {
            let pth = run.networkURL(epoch: epoch, name: Self.name(e.name))
            do {
                let sd = stateDict(i)
                try TorchWriter.write(sd, to: pth)
                try SafetensorsWriter.write(sd, to: pth.deletingPathExtension().appendingPathExtension("safetensors"))
            } catch {
                throw TrainingError(.writeFailed, "\(error)", cause: error)
            }
        }
    }

    /// Reads generator `generator`'s average from `file` (a checkpoint `save` wrote); every
    /// parameter must be there with the generator's shape.
    func load(_ generator: String, from file: URL) throws {
        guard let e = entries.firstIndex(where: { $0.name == generator }) else { return }
        let sd: StateDict
        do { sd = try Checkpoint.load(contentsOf: file).stateDict } catch {
            throw TrainingError(.stateMismatch, "\(file.path): \(error)")
        }
        var average: [[Float]] = []
        for p in entries[e].parameters {
            guard let t = sd[p.key], t.shape == p.variable.data.shape else {
                throw TrainingError(.stateMismatch, "\(file.path): \(sd[p.key] == nil ? "no \(p.key)" : "\(p.key) has shape \(sd[p.key]!.shape), the generator's is \(p.variable.data.shape)"): not the average of this run's \(generator)")
            }
            average.append(t.values)
        }
        entries[e].average = average
    }

    /// Runs `body` with the averaged weights in the generators, then puts the trained ones back
    /// exactly (a sample grid drawn with what `convert` will run).
    func withAveragedWeights<R>(_ body: () throws -> R) rethrows -> R {
        let trained = entries.map { $0.parameters.map { $0.variable.data.values } }
        func copy(_ source: [[[Float]]]) {
            for (e, entry) in entries.enumerated() {
                for (p, parameter) in entry.parameters.enumerated() {
                    parameter.variable.data.withUnsafeMutableBufferPointer { w in
                        source[e][p].withUnsafeBufferPointer { s in _ = w.initialize(from: s) }
                    }
                }
            }
        }
        copy(entries.map(\.average))
        defer { copy(trained) }
        return try body()
    }
}
