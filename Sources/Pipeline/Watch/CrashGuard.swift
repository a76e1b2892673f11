import Foundation

/// Keeps a file that kills the worker (a bug not yet found, a decoder crash, the OOM killer) from
/// killing every worker that recovers it: a crash loop.
///
/// Before converting a claim, the worker durably records one more attempt in the claim folder
/// (`.processing/<claim>/.attempts`). A claim that comes back from a dead worker with
/// `maxAttempts` attempts already made has killed a worker that many times: it goes to the failed
/// folder instead. A claim with any attempt converts alone (see `ConversionGate`), so a second
/// crash is its own and never charged to files that happened to convert beside it.
enum CrashGuard {
    /// Attempts after which a claim is set aside.
    static let maxAttempts = 2

    static func attemptsFile(_ claimDir: URL) -> URL { claimDir.appendingPathComponent(".attempts") }

    /// Attempts recorded so far (0 without a record).
    static func attempts(in claimDir: URL) -> Int {
        guard let text = try? String(contentsOf: attemptsFile(claimDir), encoding: .utf8) else { return 0 }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Writes `n` durably (temporary file, fsync, rename, fsync of the folder): a crash right after
    /// must find it.
    static func record(_ n: Int, in claimDir: URL) throws {
        if n <= 0 {
            unlink(attemptsFile(claimDir).path)
        } else {
            try AtomicWriter.write(Data("\(n)\n".utf8), to: attemptsFile(claimDir), mode: .replace)
        }
    }

    /// Why a claim was set aside, for `NAME.error.json`.
    struct RepeatedCrash: Error, CustomStringConvertible {
        var attempts: Int
        var description: String {
            "the worker died \(attempts == 2 ? "twice" : "\(attempts) times") while converting this file (a crash, or "
                + "killed by the kernel, e.g. out of memory); it was set aside so the service can go on. "
                + "See the worker's log for the crash, and report it with this file; move it back into the inbox to retry"
        }
    }

    /// Test-only seam: with `GANTRY_TEST_CRASH_ON=TEXT`, a worker SIGKILLs itself when it starts
    /// converting a file whose name contains TEXT; with `GANTRY_TEST_HANG_ON=TEXT` it stops there
    /// forever, so a test can kill it mid-file. The CLI tests use these to make poison files and
    /// dead workers on demand; nothing else sets them.
    static func testSeam(_ name: String) {
        if let text = crashOn, !text.isEmpty, name.contains(text) {
            kill(getpid(), SIGKILL)
            // PID 1 of a PID namespace cannot SIGKILL itself; end as abruptly as a crash.
            _exit(137)
        }
        if let text = hangOn, !text.isEmpty, name.contains(text) {
            while true { sleep(3600) }
        }
    }

    private static let crashOn = ProcessInfo.processInfo.environment["GANTRY_TEST_CRASH_ON"]
    private static let hangOn = ProcessInfo.processInfo.environment["GANTRY_TEST_HANG_ON"]
}

/// Lets conversions run side by side, except a suspect one, which runs with nothing else in
/// this process. Suspects wait for running conversions to end, and new ones wait for suspects.
final class ConversionGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var running = 0
    private var aloneRunning = false
    private var aloneWaiting = 0

    func run<T>(alone: Bool, _ body: () throws -> T) rethrows -> T {
        condition.lock()
        if alone {
            aloneWaiting += 1
            while running > 0 || aloneRunning { condition.wait() }
            aloneWaiting -= 1
            aloneRunning = true
        } else {
            while aloneRunning || aloneWaiting > 0 { condition.wait() }
            running += 1
        }
        condition.unlock()
        defer {
            condition.lock()
            if alone { aloneRunning = false } else { running -= 1 }
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
