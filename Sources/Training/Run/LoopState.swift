import Foundation
import Models

/// `RUN/state.json` of the StarGAN and DCGAN trainers: with `latest_net_{G,D}.pth` and
/// `optimizers.safetensors`, what `--continue` needs to carry on exactly — the iteration, the
/// data order and the position in it, and both random streams (data: order and flips; model:
/// noise, interpolation weights, target labels).
///
/// Saved after the networks and the optimizers, so a crash between leaves the previous state
/// with newer weights: the run continues (from a slightly later point in weights), never from a
/// file half-written. `RunProgress` reads `epochs_done`, `interrupted` and `iteration` for
/// `gantry inspect`.
struct LoopState: Codable {
    /// Completed iterations (batches) over the whole run.
    var iteration: Int
    /// DCGAN: the epoch `order` and `position` belong to, and the epochs completed before it.
    var epoch: Int?
    var epochs_done: Int?
    var interrupted: Bool?
    var order: [Int]
    var position: Int
    var dataRandom: [UInt64]
    var modelRandom: [UInt64]
    /// Complete lines of `losses.jsonl` that belong to this state.
    var lossRecords: Int

    static let fileName = "state.json", optimizersName = "optimizers.safetensors"

    /// Networks, optimizers and this state, in that order (see above).
    func save(in run: RunFolder, networks: [(name: String, module: Module)], optimizers: [String: any Optimizer]) throws {
        try run.saveNetworks(networks, epoch: "latest")
        try TrainingStateFile.save(optimizers: optimizers, to: run.url.appendingPathComponent(Self.optimizersName))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let url = run.url.appendingPathComponent(Self.fileName)
        do { try encoder.encode(self).write(to: url, options: .atomic) } catch {
            throw TrainingError(.writeFailed, "\(url.path): \(error.localizedDescription)")
        }
    }

    /// Reads the state of a run of `recipe` over `items` data items and loads the networks and
    /// optimizers it goes with; one error naming the file when anything does not fit.
    static func resume(_ run: RunFolder, recipe: String, items: Int, networks: [(name: String, module: Module)],
                       optimizers: [String: any Optimizer]) throws -> LoopState {
        let url = run.url.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingError(.stateMismatch, "--continue: \(url.path) does not exist (the run saved nothing yet); drop --continue to start a new run")
        }
        let text = try readBounded(url, limit: 64 << 20, what: "a \(recipe) state.json")
        let state: LoopState
        do { state = try JSONDecoder().decode(LoopState.self, from: Data(text.utf8)) } catch {
            throw TrainingError(.unreadableRun, "\(url.path): not a \(recipe) training state (\(error))")
        }
        let limit = 1 << 40
        guard (0...limit).contains(state.iteration), (0...limit).contains(state.lossRecords),
              (state.epoch ?? 1) >= 1, (state.epoch ?? 1) <= 1 << 31 else {
            throw TrainingError(.unreadableRun, "\(url.path): its counters are inconsistent")
        }
        guard state.order.allSatisfy({ (0..<items).contains($0) }), (0...state.order.count).contains(state.position) else {
            throw TrainingError(.stateMismatch, "\(url.path): its data order does not fit the \(items) images now in --data; exact continuation needs the same data")
        }
        _ = try run.loadNetworks(networks, epoch: "latest")
        try TrainingStateFile.load(from: run.url.appendingPathComponent(optimizersName), optimizers: optimizers)
        try LossLog.truncate(run.url.appendingPathComponent("losses.jsonl"), toRecords: state.lossRecords)
        return state
    }
}
