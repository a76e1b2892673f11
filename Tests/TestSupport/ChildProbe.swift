import Foundation

/// Runs `gantry probe` on many inputs in a child process, so that an input which crashes or
/// hangs the reader fails the calling test (naming the input) instead of the whole test run.
public enum ChildProbe {
    /// One input that did not end in "ok" or a clean error.
    public struct Finding: CustomStringConvertible, Sendable {
        public var name: String
        /// e.g. "killed by signal 5", "inconsistent: …".
        public var reason: String
        /// Where the input was kept for replaying: `gantry probe --kind KIND PATH`.
        public var savedAt: String
        public var description: String { "\(name): \(reason) (input saved at \(savedAt))" }
    }

    /// Reads every input in a child `gantry probe --kind <kind>`; after a crash, restarts after the
    /// culprit. Each child gets `timeout` seconds for its whole batch.
    public static func run(kind: String, inputs: [(name: String, data: Data)], timeout: Double = 600,
                           environment: [String: String] = [:]) throws -> [Finding] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var keep = false
        defer { if !keep { try? FileManager.default.removeItem(at: dir) } }
        var paths: [String] = []
        for (i, input) in inputs.enumerated() {
            let url = dir.appendingPathComponent(String(format: "%05d-", i) + input.name)
            try input.data.write(to: url)
            paths.append(url.path)
        }
        var findings: [Finding] = []
        var next = 0
        while next < paths.count {
            let list = dir.appendingPathComponent("list.txt")
            try paths[next...].joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
            let (status, signal, lines) = try runChild(["probe", "--kind", kind, "--list", list.path], timeout: timeout,
                                                   environment: environment)
            var started: String?
            var resumeAt = paths.count
            for line in lines {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard fields.count >= 2 else { continue }
                if fields[0] == "start" { started = fields[1] }
                if fields[0] == "result", fields.count == 3 {
                    started = nil
                    if fields[2] != "ok" && !fields[2].hasPrefix("error ") {
                        findings.append(Finding(name: name(of: fields[1]), reason: fields[2], savedAt: fields[1]))
                    }
                }
            }
            if let culprit = started {
                let why = signal.map { "killed by signal \($0)" } ?? (status == -1 ? "hung for \(Int(timeout)) s" : "exited with status \(status)")
                findings.append(Finding(name: name(of: culprit), reason: why, savedAt: culprit))
                resumeAt = (paths.firstIndex(of: culprit) ?? paths.count - 1) + 1
            } else if status != 0 || signal != nil {
                let why = signal.map { "killed by signal \($0)" } ?? "exited with status \(status)"
                findings.append(Finding(name: "(child)", reason: "\(why) outside any input", savedAt: dir.path))
            }
            next = resumeAt
        }
        keep = !findings.isEmpty
        return findings
    }

    private static func name(of path: String) -> String {
        String(URL(fileURLWithPath: path).lastPathComponent.drop { $0 != "-" }.dropFirst())
    }

    /// Exit status (-1 when killed for exceeding `timeout`), the terminating signal, stdout lines.
    private static func runChild(_ arguments: [String], timeout: Double,
                                 environment extra: [String: String]) throws -> (Int32, Int32?, [String]) {
        let process = Process()
        process.executableURL = gantryExecutable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"  // a crash is expected here; skip the slow backtrace
        environment.merge(extra) { $1 }
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let timedOut = TimeoutFlag()
        let timer = DispatchWorkItem { timedOut.set(); process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        if timedOut.isSet { return (-1, nil, lines) }
        let signal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        return (signal == nil ? process.terminationStatus : 0, signal, lines)
    }
}

private final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
