import Checkpoints
import Engine
import Foundation

/// `RUN/state.json`: what `--continue` needs besides the networks' weights to carry on exactly
/// where a run stopped — at an epoch's end or after any iteration — so that stopping and
/// continuing computes bit for bit what an uninterrupted run computes (at one thread count).
///
/// It names the files of its *generation* under `RUN/resume/`: hard links to the `latest_net_*`
/// files it was saved with, the optimizers' moments (`TrainingStateFile`) and, for CycleGAN, the
/// image pools. A save writes the new generation's files, then renames `state.json` into place
/// (the commit), then removes the older generation's files; a crash at any point leaves a
/// `state.json` whose files all exist. Random states are hexadecimal strings (JSON numbers lose
/// 64-bit integers in some parsers).
struct ResumeState: Codable {
    static let formatVersion = 1

    var format = formatVersion
    var model: String
    /// The last epoch completed (`epoch_count - 1` before the first).
    var epochs_done: Int
    /// Stopped by a signal (or a stop request) rather than at a planned end.
    var interrupted: Bool
    /// Iterations (batches) trained over the whole run.
    var iterations: Int
    /// The epoch to continue in, the entries of its `order` already consumed, and the images
    /// trained in it so far (`order` is nil at an epoch's end: the next epoch draws its own).
    var epoch: Int
    var position: Int
    var images_in_epoch: Int
    var order: [Int]?
    /// The dataset's size when saved: an exact continuation needs the same data.
    var dataset_count: Int
    var data_random: [String]
    var model_random: [String]
    /// Complete lines of `losses.jsonl` that belong to the saved state.
    var log_records: Int
    /// Files skipped as undecodable so far (each message once) and how many times one was.
    var skipped: [String]
    var skipped_count: Int
    var schedulers: [String: SavedScheduler]
    var generation: String
    /// Network name → its weights, relative to the run folder.
    var networks: [String: String]
    var optimizers: String
    var pools: String?
    var threads: Int
    var saved_at: String

    static func hex(_ state: [UInt64]) -> [String] { state.map { String($0, radix: 16) } }

    static func words(_ hex: [String], _ what: String, path: String) throws -> [UInt64] {
        let words = hex.compactMap { UInt64($0, radix: 16) }
        guard words.count == 4, hex.count == 4 else {
            throw TrainingError(.unreadableState, "\(path): '\(what)' must be four hexadecimal words")
        }
        return words
    }

    /// Reads `state.json`, bounded (it is small; a huge one is not ours).
    static func read(_ url: URL) throws -> ResumeState {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        if let size = attributes?[.size] as? Int, size > 64 << 20 {
            throw TrainingError(.unreadableState, "\(url.path): \(size) bytes is too large for a run's state file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError(.unreadableState, "\(url.path): cannot be read (\(error.localizedDescription))")
        }
        let state: ResumeState
        do { state = try JSONDecoder().decode(ResumeState.self, from: data) } catch {
            throw TrainingError(.unreadableState, "\(url.path): not a Gantry run state (\(error)); delete it to continue from the weights alone")
        }
        guard state.format == formatVersion else {
            throw TrainingError(.unreadableState, "\(url.path): state format \(state.format); this Gantry reads \(formatVersion)")
        }
        // Counters are bounded before use: a hand-edited 9e18 must not overflow an addition or
        // drive a replay loop for ever.
        let limit = 1 << 40
        guard state.position >= 0, state.position <= (state.order?.count ?? 0),
              (0...limit).contains(state.images_in_epoch), (0...limit).contains(state.iterations),
              (0...limit).contains(state.log_records), (0...limit).contains(state.skipped_count),
              (1...(1 << 31)).contains(state.epoch), (0...(1 << 31)).contains(state.epochs_done), state.skipped.count <= 10_000 else {
            throw TrainingError(.unreadableState, "\(url.path): its counters are inconsistent")
        }
        for file in Array(state.networks.values) + [state.optimizers] + (state.pools.map { [$0] } ?? []) {
            guard file.hasPrefix("resume/"), !file.contains("..") else {
                throw TrainingError(.unreadableState, "\(url.path): '\(file)' is not a file under resume/")
            }
        }
        return state
    }

    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do { data = try encoder.encode(self) } catch {
            throw TrainingError(.writeFailed, "cannot encode the run state: \(error)")
        }
        try TrainingStateFile.writeAtomically(url) { temporary throws(TrainingError) in
            do { try data.write(to: temporary) } catch {
                throw TrainingError(.writeFailed, "\(url.path): \(error.localizedDescription)")
            }
        }
    }
}

extension LearningRateScheduler {
    /// Puts back a saved schedule when it was saved with this scheduler's policy; returns false
    /// (changing nothing) when the policy differs, e.g. a continued run given more epochs.
    func restore(_ saved: SavedScheduler) -> Bool {
        guard saved.policy == policy.settings, Double(saved.base_lr) == baseLR,
              let lr = Double(saved.lr), let best = Double(saved.best),
              saved.last_epoch >= 0, saved.num_bad_epochs >= 0, saved.cooldown_counter >= 0 else { return false }
        (lastEpoch, self.lr, self.best, numBadEpochs, cooldownCounter) =
            (saved.last_epoch, lr, best, saved.num_bad_epochs, saved.cooldown_counter)
        return true
    }
}

/// CycleGAN's image pools as one safetensors file: `<pool>/<slot>` → 1×C×H×W.
enum PoolFile {
    static func save(_ pools: [(name: String, pool: ImagePool)], to url: URL) throws {
        var sd = StateDict()
        for (name, pool) in pools {
            for i in 0..<pool.count {
                let image = try pool.storedImage(i)
                sd["\(name)/\(i)"] = CheckpointTensor(shape: image.shape, values: image.values)
            }
        }
        do { try SafetensorsWriter.write(sd, to: url) } catch { throw TrainingError(.writeFailed, "\(error)") }
    }

    static func load(_ url: URL, into pools: [(name: String, pool: ImagePool)]) throws {
        let sd: StateDict
        do { sd = try Checkpoint.load(contentsOf: url).stateDict } catch {
            throw TrainingError(.unreadableState, "\(url.path): \(error)")
        }
        var restored: [(ImagePool, [Tensor])] = []
        for (name, pool) in pools {
            var images: [Tensor] = []
            while let t = sd["\(name)/\(images.count)"] { images.append(try Tensor(shape: t.shape, values: t.values)) }
            guard images.count <= pool.size else {
                throw TrainingError(.stateMismatch, "\(url.path): \(images.count) images for pool \(name) of size \(pool.size)")
            }
            restored.append((pool, images))
        }
        for (pool, images) in restored { try pool.restore(images) }
    }
}
