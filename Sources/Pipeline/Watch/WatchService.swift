import CoreMetrics
import Engine
import Foundation
import Imaging
import Models

/// Settings of `gantry watch`.
public struct WatchConfiguration: Sendable {
    public var layout: InboxLayout
    public var convert = ConvertConfiguration()
    /// Seconds a file's size and mtime must stay unchanged before it is taken.
    public var settle: Double = 2
    /// Poll every this many seconds instead of using inotify (network and Docker Desktop mounts).
    public var poll: Double?
    /// Full rescans between events, catching anything inotify missed.
    public var rescan: Double = 10
    /// Seconds to finish files in flight after SIGTERM/SIGINT.
    public var grace: Double = 60
    public var deleteInputs = false
    public var suffix = ""
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
/// with two links was published (retire only); one link, publish then retire; none, convert again.
public final class WatchService: @unchecked Sendable {
    public let configuration: WatchConfiguration
    public let metrics: WatchMetrics
    private let generator: Generator
    private let runner: GeneratorRunner
    private let preprocessor: Preprocessor
    private let workerID: String
    private var claimCounter = 0
    private let stopping = AtomicFlag()
    private let lock = NSLock()

    /// - Parameter metricsFactory: where the counters go (`/metrics` passes a Prometheus factory).
    public init(generator: Generator, configuration: WatchConfiguration, backend: ConvolutionBackend,
                metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.generator = generator
        self.configuration = configuration
        metrics = WatchMetrics(factory: metricsFactory)
        let c = configuration.convert
        runner = GeneratorRunner(generator: generator, settings: c.settings, backend: backend,
                                 pixelLimit: c.memory.pixelLimit(for: generator.architecture, parameterCount: generator.parameterCount))
        preprocessor = Preprocessor(policy: c.preprocess, maxSide: c.maxSide, architecture: generator.architecture)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let hostname = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        workerID = "\(hostname)-\(getpid())-\(Int(Date().timeIntervalSince1970))"
    }

    /// Asks the service to stop taking files; files in flight are finished (within `grace`).
    public func stop() { stopping.set() }

    // MARK: - Main loop

    /// Runs until `stop()`. Returns the number of claims left unfinished when the grace period ran out.
    public func run() throws -> Int {
        let layout = configuration.layout
        try layout.createFolders()
        beat()
        var recovered = recoverDeadClaims()
        let events = InboxEvents(usePolling: configuration.poll != nil)
        if let why = events.unavailable, configuration.poll == nil { log(["event": "polling", "reason": why]) }
        log(["event": "started", "worker": workerID, "inbox": layout.inbox.path, "outbox": layout.outbox.path,
             "mode": events.isActive ? "inotify" : "polling"])

        let queue = BoundedQueue<Claim>(capacity: max(1, configuration.convert.jobs.process))
        let workers = spawn(configuration.convert.jobs.process, name: "gantry-watch") { [self] _ in
            while let claim = queue.take() { finish(claim) }
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
            metrics.setQueueDepth(pending.count)
            for rel in ready.sorted() where !stopping.isSet {
                pending[rel] = nil
                if let claim = claim(rel) { queue.put(claim) }
            }
            if t - lastBeat >= 2 {
                beat()
                lastBeat = t
                for claim in recoverDeadClaims() { queue.put(claim) }
            }
            usleep(ready.isEmpty ? 200_000 : 10_000)
        }
        log(["event": "stopping", "in_flight": String(metrics.inFlight)])
        queue.close()
        let deadline = now() + configuration.grace
        while metrics.inFlight > 0 && now() < deadline { usleep(50_000) }
        let left = metrics.inFlight
        if left == 0 { workers() }
        try? FileManager.default.removeItem(at: layout.workers.appendingPathComponent(workerID))
        log(["event": "stopped", "unfinished": String(left)])
        return left
    }

    // MARK: - Claims

    struct Claim {
        var id: String
        var relative: String
    }

    private func claim(_ rel: String) -> Claim? {
        let layout = configuration.layout
        let id = lock.withLock { claimCounter += 1; return "\(workerID)~\(claimCounter)" }
        let dir = layout.processing.appendingPathComponent(id)
        let target = dir.appendingPathComponent(rel)
        do {
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch { return nil }
        // Only one worker's rename can succeed; the others find the file gone.
        guard rename(layout.inbox.appendingPathComponent(rel).path, target.path) == 0 else {
            try? FileManager.default.removeItem(at: dir)
            return nil
        }
        metrics.claimed()
        return Claim(id: id, relative: rel)
    }

    /// Claims of workers that stopped without finishing them, taken over by renaming the claim
    /// folder (so two recovering workers cannot both take one).
    private func recoverDeadClaims() -> [Claim] {
        let layout = configuration.layout
        guard let ids = try? FileManager.default.contentsOfDirectory(atPath: layout.processing.path) else { return [] }
        var out: [Claim] = []
        for id in ids {
            guard let owner = id.split(separator: "~").first.map(String.init), owner != workerID, !isAlive(owner) else { continue }
            let mine = lock.withLock { claimCounter += 1; return "\(workerID)~\(claimCounter)" }
            guard rename(layout.processing.appendingPathComponent(id).path, layout.processing.appendingPathComponent(mine).path) == 0 else { continue }
            // The work file keeps the original claim id in its name; link it to the new one.
            for ext in ["png", "jpg"] {
                let old = layout.work.appendingPathComponent("\(id).\(ext)")
                if FileManager.default.fileExists(atPath: old.path) {
                    link(old.path, layout.work.appendingPathComponent("\(mine).\(ext)").path)
                    unlink(old.path)
                }
                unlink(layout.work.appendingPathComponent("\(id).\(ext).partial").path)
            }
            var folders: [URL] = []
            let inner = InboxLayout(inbox: layout.processing.appendingPathComponent(mine), outbox: layout.outbox)
            let inputs = inner.scan(folders: &folders)
            if inputs.isEmpty {
                // The input was already retired: only the work file's last link remains.
                for ext in ["png", "jpg"] { unlink(layout.work.appendingPathComponent("\(mine).\(ext)").path) }
                removeEmpty(layout.processing.appendingPathComponent(mine))
            }
            for rel in inputs {
                out.append(Claim(id: mine, relative: rel))
                metrics.claimed()
            }
            log(["event": "recovered", "from": owner, "claim": mine, "files": String(inputs.count)])
        }
        return out
    }

    /// A worker is alive if its heartbeat is recent and, on this host, its process exists.
    private func isAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: "-")
        let heartbeat = configuration.layout.workers.appendingPathComponent(owner)
        if parts.count >= 3, let pid = Int32(parts[parts.count - 2]), owner.hasPrefix(hostPrefix) {
            return kill(pid, 0) == 0 || errno != ESRCH
        }
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: heartbeat.path),
              let date = attrs[.modificationDate] as? Date else { return false }
        return Date().timeIntervalSince(date) < 30
    }

    private var hostPrefix: String { String(workerID.split(separator: "-").dropLast(2).joined(separator: "-")) + "-" }

    private func beat() {
        let stamp = Data("\(Date().timeIntervalSince1970)\n".utf8)
        for file in [configuration.layout.workers.appendingPathComponent(workerID), configuration.heartbeat].compactMap({ $0 }) {
            _ = FileManager.default.createFile(atPath: file.path, contents: stamp)
        }
        metrics.beat()
    }

    // MARK: - Converting one claim

    private func finish(_ claim: Claim) {
        defer { metrics.released() }
        let layout = configuration.layout
        let start = now()
        let claimDir = layout.processing.appendingPathComponent(claim.id)
        let input = claimDir.appendingPathComponent(claim.relative)
        let ext = outputExtension(claim.relative)
        let work = layout.work.appendingPathComponent("\(claim.id).\(ext)")
        do {
            var st = stat()
            if stat(work.path, &st) != 0 {
                let data = try convert(input)
                try writeDurably(data, to: work)
                st = stat()
                stat(work.path, &st)
            }
            var published: URL?
            if st.st_nlink < 2 {
                let rel = (claim.relative as NSString).deletingPathExtension + configuration.suffix + "." + ext
                published = try publish(work, as: rel)
            }
            try retire(input, relative: claim.relative, to: layout.done)
            unlink(work.path)
            metrics.converted(seconds: now() - start)
            log(["event": "converted", "input": claim.relative, "output": published?.path ?? "(published before a restart)",
                 "seconds": String(format: "%.3f", now() - start)])
        } catch {
            let reason = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            unlink(work.path)
            unlink(work.path + ".partial")
            if let moved = try? InboxLayout.moveUnique(input, into: layout.failed, relative: claim.relative) {
                writeErrorReport(for: moved, reason: reason)
            }
            metrics.failed()
            log(["event": "failed", "input": claim.relative, "error": reason])
        }
        removeEmpty(claimDir)
    }

    private func outputExtension(_ rel: String) -> String {
        switch configuration.convert.format {
        case .png: return "png"
        case .jpg: return "jpg"
        case .same: return (rel as NSString).pathExtension.lowercased() == "png" ? "png" : "jpg"
        }
    }

    private func convert(_ input: URL) throws -> Data {
        let image = try ImageCodec.decodeFile(atPath: input.path, limits: configuration.convert.decodeLimits)
        let prepared = try preprocessor.prepare(image)
        let output = try runner.run(prepared.tensor)
        let encodable = Postprocessor.image(from: output, prepared: prepared, quantization: .init(for: generator.architecture.family))
        let ext = outputExtension(input.lastPathComponent)
        return try ImageCodec.encode(encodable, as: ext == "png" ? .png : .jpeg, quality: configuration.convert.quality,
                                     path: input.lastPathComponent)
    }

    private func writeDurably(_ data: Data, to url: URL) throws {
        let partial = url.path + ".partial"
        unlink(partial)
        guard FileManager.default.createFile(atPath: partial, contents: data),
              let h = FileHandle(forWritingAtPath: partial) else {
            throw PipelineError(.writeFailed, "\(url.path): cannot write the result")
        }
        try? h.synchronize()
        try? h.close()
        guard rename(partial, url.path) == 0 else { throw PipelineError(.writeFailed, "\(url.path): cannot finish the result") }
    }

    /// Links the finished work file to a free name in the outbox (never replacing anything).
    private func publish(_ work: URL, as rel: String) throws -> URL {
        let target = configuration.layout.outbox.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        var candidate = target, n = 0
        while link(work.path, candidate.path) != 0 {
            guard errno == EEXIST else {
                throw PipelineError(.writeFailed, "\(candidate.path): cannot publish (\(String(cString: strerror(errno))))")
            }
            n += 1
            let stem = (target.lastPathComponent as NSString).deletingPathExtension
            candidate = target.deletingLastPathComponent().appendingPathComponent("\(stem)-\(n).\(target.pathExtension)")
        }
        return candidate
    }

    private func retire(_ input: URL, relative: String, to done: URL) throws {
        guard FileManager.default.fileExists(atPath: input.path) else { return }
        if configuration.deleteInputs {
            unlink(input.path)
        } else {
            try InboxLayout.moveUnique(input, into: done, relative: relative)
        }
    }

    private func writeErrorReport(for moved: URL, reason: String) {
        let report: [String: String] = ["file": moved.lastPathComponent, "reason": reason,
                                        "time": ISO8601DateFormatter().string(from: Date()), "version": "gantry 0.1.0",
                                        "worker": workerID]
        guard let data = try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]) else { return }
        var url = moved.deletingLastPathComponent().appendingPathComponent(moved.lastPathComponent + ".error.json")
        var n = 0
        while FileManager.default.fileExists(atPath: url.path) {
            n += 1
            url = moved.deletingLastPathComponent().appendingPathComponent(moved.lastPathComponent + ".error-\(n).json")
        }
        try? AtomicWriter.write(data, to: url, mode: .createNew)
    }

    private func removeEmpty(_ dir: URL) {
        // Deepest first: the claim folder mirrors the input's subfolders.
        if let e = FileManager.default.enumerator(atPath: dir.path) {
            let subdirs = e.compactMap { $0 as? String }.sorted { $0.count > $1.count }
            for s in subdirs { rmdir(dir.appendingPathComponent(s).path) }
        }
        rmdir(dir.path)
    }

    private func relative(_ url: URL) -> String? {
        let root = configuration.layout.inbox.path + "/"
        let p = url.standardizedFileURL.path
        return p.hasPrefix(root) ? String(p.dropFirst(root.count)) : nil
    }

    private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

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
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
