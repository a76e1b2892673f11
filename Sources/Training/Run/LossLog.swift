import AtomicFiles
import Foundation
import Runs

/// One training iteration's record in `RUN/losses.jsonl`: where in the run it was, the learning
/// rate, the reference's named losses, and how long the iteration took.
public struct LossRecord: Equatable, Sendable {
    public var epoch: Int
    /// Images seen so far in this epoch (the reference's `epoch_iter`).
    public var iter: Int
    public var lr: Double
    public var losses: [(name: String, value: Double)]
    public var seconds: Double

    public init(epoch: Int, iter: Int, lr: Double, losses: [(name: String, value: Double)], seconds: Double) {
        (self.epoch, self.iter, self.lr, self.losses, self.seconds) = (epoch, iter, lr, losses, seconds)
    }

    public static func == (a: LossRecord, b: LossRecord) -> Bool {
        a.epoch == b.epoch && a.iter == b.iter && a.lr == b.lr && a.seconds == b.seconds
            && a.losses.map(\.name) == b.losses.map(\.name) && a.losses.map(\.value) == b.losses.map(\.value)
    }

    /// One JSON object, keys in a fixed order: epoch, iter, lr, the losses, time_s.
    public var jsonLine: String {
        func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
        var fields = ["\"epoch\":\(epoch)", "\"iter\":\(iter)", "\"lr\":\(number(lr))"]
        fields += losses.map { "\"\($0.name)\":\(number($0.value))" }
        fields.append("\"time_s\":\(number(seconds))")
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// Parses a line `jsonLine` wrote (other keys are losses, in the line's order). Numbers are
    /// read with `Double(String)`, which rounds exactly (Foundation's JSON parser on Linux does not).
    public init(jsonLine line: String) throws {
        let bad = TrainingError(.unreadableState, "not a losses.jsonl record: \(line.prefix(80))")
        guard line.hasPrefix("{"), line.hasSuffix("}") else { throw bad }
        var fields: [(String, Double)] = []
        for field in line.dropFirst().dropLast().split(separator: ",") {
            let parts = field.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].hasPrefix("\""), parts[0].hasSuffix("\""), parts[0].count >= 2 else { throw bad }
            let value = parts[1] == "null" ? Double.nan : Double(parts[1])
            guard let value else { throw bad }
            fields.append((String(parts[0].dropFirst().dropLast()), value))
        }
        func take(_ key: String) -> Double? { fields.first { $0.0 == key }?.1 }
        // A corrupted file must not reach Int(_:)'s trap on huge or non-finite values.
        guard let epoch = take("epoch"), let iter = take("iter"), abs(epoch) < 1e15, abs(iter) < 1e15 else { throw bad }
        self.init(epoch: Int(epoch), iter: Int(iter), lr: take("lr") ?? .nan,
                  losses: fields.filter { !["epoch", "iter", "lr", "time_s"].contains($0.0) }.map { ($0.0, $0.1) },
                  seconds: take("time_s") ?? .nan)
    }
}

/// `RUN/losses.jsonl`, appended one line per iteration and flushed, so a crash loses at most
/// the line being written (a torn last line is ignored when reading).
public final class LossLog {
    public let url: URL
    private let handle: FileHandle

    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw TrainingError(.writeFailed, "\(url.path): cannot create the loss log")
            }
        }
        do {
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw TrainingError(.writeFailed, "\(url.path): cannot open the loss log (\(error.localizedDescription))")
        }
    }

    deinit { try? handle.close() }

    public func append(_ record: LossRecord) throws {
        do { try handle.write(contentsOf: Data((record.jsonLine + "\n").utf8)) } catch {
            throw TrainingError(.writeFailed, "\(url.path): cannot append to the loss log (\(error.localizedDescription))")
        }
    }

    /// Flushes the appended lines to disk (before a state that counts them is saved).
    public func flush() throws {
        do { try handle.synchronize() } catch {
            throw TrainingError(.writeFailed, "\(url.path): cannot flush the loss log (\(error.localizedDescription))")
        }
    }

    /// Cuts the file to its first `count` complete lines (a continued run drops what came after
    /// the state it continues from).
    public static func truncate(_ url: URL, toRecords count: Int) throws {
        guard let data = try? Data(contentsOf: url) else { return }
        var kept = 0, end = data.startIndex
        for i in data.indices where data[i] == 0x0A {
            guard kept < count else { break }
            kept += 1
            end = i + 1
        }
        guard end < data.endIndex else { return }
        do { try AtomicFile.write(Data(data[data.startIndex..<end]), to: url) } catch {
            throw TrainingError(.writeFailed, "\(error): cannot cut the loss log back to the saved state", cause: error)
        }
    }

    /// Every complete record in the file.
    public static func read(_ url: URL) throws -> [LossRecord] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let complete = text.hasSuffix("\n") ? lines[...] : lines.dropLast()
        return try complete.map { try LossRecord(jsonLine: String($0)) }
    }
}
