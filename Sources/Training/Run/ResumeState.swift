import AtomicFiles
import Checkpoints
import Engine
import Foundation
import Runs

/// `RUN/state.json`, for every recipe: what `--continue` needs besides the networks' weights to
/// carry on exactly where a run stopped — at an epoch's end or after any iteration — so that
/// stopping and continuing computes bit for bit what an uninterrupted run computes (at one thread
/// count).
///
/// It names the files of its *generation* under `RUN/resume/`: hard links to the `latest_net_*`
/// files it was saved with, the optimizers' moments and schedules (`TrainingStateFile`) and the
/// recipe's own state (CycleGAN's image pools). A save writes the new generation's files, then
/// renames `state.json` into place (the commit), then removes the older generation's files; a
/// crash at any point leaves a `state.json` whose files all exist. Random states are hexadecimal
/// strings (JSON numbers lose 64-bit integers in some parsers).
///
/// Format 1 (pix2pix and CycleGAN runs before the one loop: `pools` for `recipe_state`) is read
/// as it is; so is the StarGAN and DCGAN trainers' older `state.json` (`LegacyLoopState`).
struct ResumeState: Codable {
    static let formatVersion = 2

    var format = formatVersion
    var model: String
    /// The last epoch completed (`epoch_count - 1` before the first).
    var epochs_done: Int
    /// Stopped by a signal (or a stop request) rather than at a planned end.
    var interrupted: Bool
    /// Iterations (batches) trained over the whole run.
    var iterations: Int
    /// The epoch (pass over the data) to continue in, the entries of its `order` already
    /// consumed, and the images trained in it so far (`order` is nil at an epoch's end: the next
    /// epoch draws its own).
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
    /// The recipe's own state (`Recipe.extraState`), relative to the run folder.
    var recipe_state: String?
    /// Format 1's name for `recipe_state` (CycleGAN's pools).
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

    static func url(_ run: RunFolder) -> URL { run.url.appendingPathComponent("state.json") }

    /// The state an exact `--continue` resumes from: `state.json` when it exists and the weights
    /// asked for are the latest; nil otherwise (continue from weights alone).
    static func find(in run: RunFolder, epoch: String) throws -> ResumeState? {
        let url = url(run)
        guard epoch == "latest", FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try read(url)
    }

    /// Reads `state.json` of any format, bounded (it is small; a huge one is not ours).
    static func read(_ url: URL) throws -> ResumeState {
        let text = try readBounded(url, limit: 64 << 20, what: "a run's state file")
        let data = Data(text.utf8)
        let state: ResumeState
        if let legacy = try? JSONDecoder().decode(LegacyLoopState.self, from: data) {
            state = try legacy.resumeState(path: url.path)
        } else {
            do { state = try JSONDecoder().decode(ResumeState.self, from: data) } catch {
                throw TrainingError(.unreadableState, "\(url.path): not a Gantry run state (\(error)); delete it to continue from the weights alone")
            }
            guard (1...formatVersion).contains(state.format) else {
                throw TrainingError(.unreadableState, "\(url.path): state format \(state.format); this Gantry reads 1 to \(formatVersion)")
            }
            for file in Array(state.networks.values) + [state.optimizers] + [state.recipe_state, state.pools].compactMap({ $0 }) {
                guard file.hasPrefix("resume/"), !file.contains("..") else {
                    throw TrainingError(.unreadableState, "\(url.path): '\(file)' is not a file under resume/")
                }
            }
        }
        // Counters are bounded before use: a hand-edited 9e18 must not overflow an addition or
        // drive a replay loop for ever.
        let limit = 1 << 40
        guard state.position >= 0, state.position <= (state.order?.count ?? 0),
              (0...limit).contains(state.images_in_epoch), (0...limit).contains(state.iterations),
              (0...limit).contains(state.log_records), (0...limit).contains(state.skipped_count),
              (1...(1 << 31)).contains(state.epoch), (0...(1 << 31)).contains(state.epochs_done), state.skipped.count <= 10_000,
              (0...limit).contains(state.dataset_count) else {
            throw TrainingError(.unreadableState, "\(url.path): its counters are inconsistent")
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
        do { try AtomicFile.write(data, to: url) } catch {
            throw TrainingError(.writeFailed, "\(error)", cause: error)
        }
    }
}

/// The `state.json` the StarGAN and DCGAN trainers wrote before the one loop: raw 64-bit random
/// states, `latest_net_*.pth` and `optimizers.safetensors` at the run's root, no schedules (both
/// recomputed), and at an epoch's end an empty order.
struct LegacyLoopState: Codable {
    var iteration: Int
    var epoch: Int?
    var epochs_done: Int?
    var interrupted: Bool?
    var order: [Int]
    var position: Int
    var dataRandom: [UInt64]
    var modelRandom: [UInt64]
    var lossRecords: Int

    func resumeState(path: String) throws -> ResumeState {
        guard dataRandom.count == 4, modelRandom.count == 4 else {
            throw TrainingError(.unreadableState, "\(path): its random states must be four words each")
        }
        let atEnd = order.isEmpty || position >= order.count, epoch = self.epoch ?? 1
        // Format 0: read from this older file, never written.
        return ResumeState(
            format: 0, model: self.epoch == nil ? "stargan" : "dcgan", epochs_done: epochs_done ?? max(0, epoch - 1),
            interrupted: interrupted ?? false, iterations: iteration, epoch: epoch, position: atEnd ? 0 : position,
            images_in_epoch: atEnd ? 0 : position, order: atEnd ? nil : order, dataset_count: order.count,
            data_random: ResumeState.hex(dataRandom), model_random: ResumeState.hex(modelRandom), log_records: lossRecords,
            skipped: [], skipped_count: 0, schedulers: [:], generation: "",
            networks: ["G": "latest_net_G.pth", "D": "latest_net_D.pth"], optimizers: "optimizers.safetensors",
            threads: -1, saved_at: "")
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

