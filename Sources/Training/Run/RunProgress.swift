import Foundation
import Runs

/// How far a run got, from what it leaves behind: `state.json` (only `epochs_done`,
/// `interrupted` and `iterations` are read, all optional — the rest is the trainer's business)
/// and the last complete line of `losses.jsonl`, read from the file's end so a long run's log is
/// never read whole.
public struct RunProgress: Sendable {
    /// Completed epochs by `state.json`, else the last epoch `losses.jsonl` logged (which may
    /// have been cut short: without `state.json` nothing says whether it finished).
    public var epochsDone: Int?
    /// Where `epochsDone` came from: "state.json", "losses.jsonl", or nil when neither says.
    public var epochsDoneSource: String?
    public var interrupted: Bool?
    public var iterations: Int?
    /// The last complete record of `losses.jsonl`.
    public var lastRecord: LossRecord?

    /// The most of `losses.jsonl` read: far more than one line (about 40 bytes per loss).
    static let tailBytes = 64 << 10

    public init(_ folder: RunFolder) throws {
        let state = folder.url.appendingPathComponent("state.json")
        if FileManager.default.fileExists(atPath: state.path) {
            let text = try readBounded(state, limit: 64 << 20, what: "a run's state file")
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let keys = object as? [String: Any] else {
                throw TrainingError(.unreadableRun, "\(state.path): not a JSON object")
            }
            func int(_ key: String) throws -> Int? {
                guard let value = keys[key] else { return nil }
                // Bounded before Int(exactly:), which would otherwise trap on nothing but accept 1e300.
                guard let d = (value as? NSNumber)?.doubleValue, d >= 0, d < 1e15, let i = Int(exactly: d) else {
                    throw TrainingError(.unreadableRun, "\(state.path): '\(key)' must be a whole number ≥ 0, got \(value)")
                }
                return i
            }
            epochsDone = try int("epochs_done")
            iterations = try int("iterations") ?? int("iteration")  // LoopState spells it "iteration"
            if let value = keys["interrupted"] {
                guard let b = value as? Bool else {
                    throw TrainingError(.unreadableRun, "\(state.path): 'interrupted' must be true or false, got \(value)")
                }
                interrupted = b
            }
            if epochsDone != nil { epochsDoneSource = "state.json" }
        }
        lastRecord = try Self.lastRecord(folder.url.appendingPathComponent("losses.jsonl"))
        if epochsDone == nil, let lastRecord {
            epochsDone = lastRecord.epoch
            epochsDoneSource = "losses.jsonl"
        }
    }

    /// The last newline-terminated line of `url` parsed as a loss record; a torn last line (a
    /// crash mid-write) is skipped, as `LossLog.read` does. nil for a missing or empty log.
    static func lastRecord(_ url: URL) throws -> LossRecord? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw TrainingError(.unreadableRun, "\(url.path): cannot be read")
        }
        defer { try? handle.close() }
        let tail: Data, fromStart: Bool
        do {
            let size = try handle.seekToEnd()
            let start = size > UInt64(tailBytes) ? size - UInt64(tailBytes) : 0
            try handle.seek(toOffset: start)
            tail = try handle.read(upToCount: tailBytes) ?? Data()
            fromStart = start == 0
        } catch {
            throw TrainingError(.unreadableRun, "\(url.path): cannot be read (\(error.localizedDescription))")
        }
        var lines = tail.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.removeLast()  // after the final newline: empty, or a torn line
        if !fromStart, !lines.isEmpty { lines.removeFirst() }  // began mid-line
        guard let last = lines.last(where: { !$0.isEmpty }) else {
            if !fromStart { throw TrainingError(.unreadableRun, "\(url.path): no line break in its last \(tailBytes >> 10) KB; not a loss log") }
            return nil
        }
        guard let line = String(data: Data(last), encoding: .utf8) else {
            throw TrainingError(.unreadableRun, "\(url.path): its last line is not UTF-8 text")
        }
        do { return try LossRecord(jsonLine: line) } catch {
            throw TrainingError(.unreadableRun, "\(url.path): last line: \(error)")
        }
    }
}
