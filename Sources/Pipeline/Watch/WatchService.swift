import AtomicFiles
import CoreMetrics
import Engine
import Foundation
import Imaging
import Models

/// Settings of `gantry watch`.
public struct WatchConfiguration: Sendable {
    public var layout: InboxLayout
    /// The conversion, resolved as `convert` resolves it (its suffix names the outputs).
    public var convert = ConversionPlan()
    /// Seconds a file's size and mtime must stay unchanged before it is taken.
    public var settle: Double = 2
    /// Poll every this many seconds instead of using inotify (network and Docker Desktop mounts).
    public var poll: Double?
    /// Full rescans between events, catching anything inotify missed.
    public var rescan: Double = 10
    /// Seconds to finish files in flight after SIGTERM/SIGINT.
    public var grace: Double = 60
    public var deleteInputs = false
    public var jsonLogs = false
    /// Extra heartbeat file touched every few seconds (for container health checks).
    public var heartbeat: URL?

    public init(layout: InboxLayout) { self.layout = layout }
}

/// The hot-folder service: every file that arrives complete in the inbox is converted exactly
/// once, across crashes and restarts, by any number of workers sharing the folder.
///
/// Exactly-once rests on atomic file-system steps, each recoverable:
/// 1. **claim**: rename the input into `.processing/<claim>/` (only one worker's rename succeeds);
/// 2. **result**: write the output to `OUTBOX/.gantry-work/<claim>.<ext>` (temporary name, flush, rename);
/// 3. **publish**: hard-link that file to its unique final name in the outbox;
/// 4. **retire**: move the input to the done folder (or delete it), then unlink the work file.
/// A worker that finds a dead worker's claim finishes it from wherever it stopped: a work file
/// with two links was published (retire only); one link, publish then retire; none, convert again
/// (unless the file already killed workers twice: see `CrashGuard`). Whether a worker is dead is
/// `WorkerRegistry`'s call.
public final class WatchService: @unchecked Sendable {
    public let configuration: WatchConfiguration
    public let metrics: WatchMetrics
    let generator: Generator
    /// One per worker, each on its own backend, as `convert`'s inference workers.
    let runners: [GeneratorRunner]
    let conversion: ItemConversion
    let registry: WorkerRegistry
    let gate = ConversionGate()
    var workerID: String { registry.id }
    private var claimCounter = 0
    /// Claim folders being converted now, with the attempt count each one recorded.
    var converting: [URL: Int] = [:]
    /// Attempts that ended in a transient fault and could not be taken back on disk (the fault
    /// was in the claim's own folder): not charged to the file when it is retried.
    private var uncharged: [URL: Int] = [:]
    /// Files held by a transient fault, and when to retry them.
    let faults = FaultHold()
    private let stopping = AtomicFlag()
    /// A pipe that becomes readable once `stop()` was asked: the main loop sleeps in poll(2) on
    /// it and on inotify's descriptor, so a stop or a new file wakes it at once and nothing polls
    /// on a timer.
    private let wakeup: (read: Int32, write: Int32) = {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return (-1, -1) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }()
    let lock = NSLock()

    /// - Parameters:
    ///   - makeBackend: called once per worker (`configuration.convert.jobs.process`).
    ///   - metricsFactory: where the counters go (`/metrics` passes a Prometheus factory).
    public init(generator: Generator, configuration: WatchConfiguration, makeBackend: () throws -> ConvolutionBackend,
                metricsFactory: any MetricsFactory = MetricsSystem.factory) throws {
        try configuration.layout.validate()
        if let problem = OutputNaming.suffixProblem(configuration.convert.suffix) {
            throw PipelineError(.invalidDefinition, "suffix '\(configuration.convert.suffix)' \(problem)")
        }
        self.generator = generator
        self.configuration = configuration
        metrics = WatchMetrics(factory: metricsFactory)
        let c = configuration.convert
        c.applyProcessLimits()
        // Workers convert side by side, so each gets a share of the budget.
        let workers = max(1, c.jobs.process)
        runners = try (0..<workers).map { _ in
            GeneratorRunner(generator: generator, configuration: c, backend: try makeBackend(), workers: workers)
        }
        conversion = ItemConversion(architecture: generator.architecture, configuration: c)
        registry = WorkerRegistry(folder: configuration.layout.workers)
    }

    deinit { for fd in [wakeup.read, wakeup.write] where fd >= 0 { close(fd) } }

    /// Asks the service to stop taking files; files in flight are finished (within `grace`).
    /// Safe from any thread, including a signal handler's dispatch queue.
    public func stop() {
        stopping.set()
        if wakeup.write >= 0 { var byte: UInt8 = 1; _ = write(wakeup.write, &byte, 1) }
    }

    /// Wakes the main loop (a fault cleared: held files go back to the workers).
    func nudge() {
        if wakeup.write >= 0 { var byte: UInt8 = 0; _ = write(wakeup.write, &byte, 1) }
    }

    /// Sleeps until inotify has events, `stop()` or `nudge()` is asked, or `seconds` pass (the
    /// next deadline: a file's settle time, the heartbeat, a rescan, a retry) — whichever comes first.
    private func wait(_ events: InboxEvents, seconds: Double) {
        var fds = [pollfd(fd: wakeup.read, events: Int16(POLLIN), revents: 0)]
        if events.descriptor >= 0 { fds.append(pollfd(fd: events.descriptor, events: Int16(POLLIN), revents: 0)) }
        let ms = Int32(max(0, min(seconds, 3600)) * 1000) + 1
        _ = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), ms) }
        // Drain the nudges; a stop is remembered by `stopping`, so nothing is lost.
        guard !stopping.isSet, wakeup.read >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeup.read, &buffer, buffer.count) > 0 {}
    }

    // MARK: - Main loop

    /// Runs until `stop()`. Returns the number of claims left unfinished when the grace period ran out.
    public func run() throws -> Int {
        let layout = configuration.layout
        try layout.createFolders()
        try registry.register()
        // With files still converting when the grace period ran out, the lock stays until the
        // process exits: until then nobody may take those claims over.
        defer { if metrics.inFlight == 0 { registry.unregister() } }
        if !registry.holdsLock {
            log(["event": "no-lock", "reason": "the inbox's file system refused flock; dead workers are recognised by their heartbeat only (\(Int(registry.staleAfter)) s)"])
        }
        beat()
        var recovered = recoverDeadClaims()
        let events = InboxEvents(usePolling: configuration.poll != nil)
        if let why = events.unavailable, configuration.poll == nil { log(["event": "polling", "reason": why]) }
        log(["event": "started", "worker": workerID, "pid": String(getpid()), "inbox": layout.inbox.path,
             "outbox": layout.outbox.path, "mode": events.isActive ? "inotify" : "polling"])

        let queue = BoundedQueue<Claim>(capacity: max(1, configuration.convert.jobs.process))
        let workers = spawn(runners.count, name: "gantry-watch") { [self] worker in
            while let claim = queue.take() { finish(claim, runner: runners[worker]) }
        }
        for claim in recovered { queue.put(claim) }
        recovered = []

        var pending: [String: (size: Int64, mtime: Double, stableSince: Double)] = [:]
        var lastScan = -Double.infinity, lastBeat = now()
        let scanEvery = configuration.poll ?? configuration.rescan
        while !stopping.isSet {
            var touched: [String] = events.drain().compactMap(relative)
            let t = now()
            if !events.isActive || events.needsRescan || t - lastScan >= scanEvery {
                var folders: [URL] = []
                touched += layout.scan(folders: &folders)
                folders.forEach(events.watch)
                events.rescanned()
                lastScan = t
            }
            for rel in touched where pending[rel] == nil { pending[rel] = (-1, 0, t) }
            // A file is ready once its size and mtime have held still for `settle` seconds.
            var ready: [String] = []
            for (rel, seen) in pending {
                var st = stat()
                guard stat(layout.inbox.appendingPathComponent(rel).path, &st) == 0 else { pending[rel] = nil; continue }
                let size = Int64(st.st_size), mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
                if size != seen.size || mtime != seen.mtime {
                    pending[rel] = (size, mtime, t)
                } else if t - seen.stableSince >= configuration.settle {
                    ready.append(rel)
                }
            }
            metrics.setQueueDepth(pending.count + faults.heldCount)
            // During a fault new files stay in the inbox; held ones go back one probe at a time.
            let due = faults.due(now: t)
            for var claim in due.claims where !stopping.isSet {
                claim.probe = due.probe
                if due.probe { metrics.retried() }
                queue.put(claim)
            }
            ready.sort()
            if due.probeIntake {
                metrics.retried()
                if let rel = probeIntake(ready.first, queue: queue) { pending[rel] = nil }
            }
            if faults.current != nil { ready = [] }
            for rel in ready where !stopping.isSet {
                pending[rel] = nil
                switch claim(rel) {
                case .claimed(let claim): queue.put(claim)
                case .gone: break
                case .fault(let fault):
                    // Claiming itself failed (the inbox read-only, failing or gone): the rest
                    // stay in the inbox until a probe finds it well again.
                    beginFault(fault)
                    ready = []
                }
                if faults.current != nil { break }
            }
            if t - lastBeat >= 2 {
                checkFolders()
                beat()
                lastBeat = t
                for claim in recoverDeadClaims() { queue.put(claim) }
                registry.removeDeadEntries()
            }
            guard ready.isEmpty, !stopping.isSet else { continue }
            // Until the next thing that is due: the earliest settle deadline, the heartbeat, a
            // rescan, a retry. During a fault, files that have settled wait for it to clear.
            var settles = pending.values.map { $0.size < 0 ? 0 : $0.stableSince + configuration.settle - now() }
            if faults.current != nil { settles = settles.filter { $0 > 0 } }
            let retry = faults.secondsToRetry(now: now()).map { [$0] } ?? []
            wait(events, seconds: ([lastBeat + 2 - now(), lastScan + scanEvery - now()] + settles + retry).min()!)
        }
        log(["event": "stopping", "in_flight": String(metrics.inFlight)])
        queue.close()
        let left = metrics.waitUntilIdle(before: Date(timeIntervalSinceNow: configuration.grace))
        if left == 0 { workers() } else { withdrawAttempts() }
        log(["event": "stopped", "unfinished": String(left)])
        return left
    }

    /// Runs one conversion of a claim, counted as an attempt (see `CrashGuard`).
    func attempt<T>(_ claimDir: URL, _ body: () throws -> T) throws -> T {
        let made = CrashGuard.attempts(in: claimDir) - lock.withLock { uncharged[claimDir] ?? 0 }
        if made >= CrashGuard.maxAttempts { throw CrashGuard.RepeatedCrash(attempts: made) }
        return try gate.run(alone: made > 0) {
            try CrashGuard.record(made + 1, in: claimDir)
            lock.withLock { converting[claimDir] = made + 1; uncharged[claimDir] = nil }
            defer { _ = lock.withLock { converting.removeValue(forKey: claimDir) } }
            return try body()
        }
    }

    /// A transient fault is no crash: the attempt it cut short is taken back (on disk if the
    /// claim's folder can be written, else remembered here).
    func withdrawAttempt(_ claimDir: URL, recorded: Int) {
        if (try? CrashGuard.record(recorded - 1, in: claimDir)) == nil {
            lock.withLock { uncharged[claimDir, default: 0] += 1 }
        }
    }

    /// A stop whose grace period ran out is no crash: take back the attempts of the conversions it
    /// cuts short, so a file too slow for the grace period is not set aside after two stops.
    private func withdrawAttempts() {
        for (dir, made) in lock.withLock({ converting }) {
            try? CrashGuard.record(made - 1, in: dir)
        }
    }

    func nextClaimID() -> String {
        lock.withLock { claimCounter += 1; return "\(workerID)~\(claimCounter)" }
    }

    private func relative(_ url: URL) -> String? {
        let root = configuration.layout.inbox.path + "/"
        let p = url.standardizedFileURL.path
        return p.hasPrefix(root) ? String(p.dropFirst(root.count)) : nil
    }

    func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Writes one log line (text or JSON, as configured) to stderr; `fields["event"]` names it.
    public func log(_ fields: [String: String]) {
        var f = fields
        f["time"] = ISO8601DateFormatter().string(from: Date())
        let line: String
        if configuration.jsonLogs {
            line = (try? JSONSerialization.data(withJSONObject: f, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? ""
        } else {
            let event = f.removeValue(forKey: "event") ?? ""
            let time = f.removeValue(forKey: "time") ?? ""
            line = "\(time) \(event) " + f.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        StandardStreams.error(line + "\n")
    }
}
