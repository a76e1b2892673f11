import AtomicFiles
import Foundation
import Imaging

/// Claiming, recovering and converting files: the steps of the protocol in `WatchService`.
extension WatchService {
    struct Claim {
        var id: String
        var relative: String
        /// The one held file retried to see whether a transient fault has cleared.
        var probe = false
    }

    enum ClaimOutcome {
        case claimed(Claim)
        /// Another worker took the file first, or it was deleted: nothing to do.
        case gone
        /// The inbox's claim folder cannot be written (read-only, full, failing, closed or gone).
        case fault(TransientFault)
    }

    func claim(_ rel: String) -> ClaimOutcome {
        let layout = configuration.layout
        let id = nextClaimID()
        let dir = layout.processing.appendingPathComponent(id)
        let target = dir.appendingPathComponent(rel)
        // `.processing` itself is never made here: if it is gone, the inbox was removed or
        // unmounted, and a claim must not land in whatever folder is left in its place.
        guard mkdir(dir.path, 0o755) == 0 else { return .fault(TransientFault(errno: errno, folder: layout.processing.path)) }
        do {
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            try? FileManager.default.removeItem(at: dir)
            return .fault(FaultHold.fault(in: error) ?? TransientFault(errno: EIO, folder: layout.processing.path))
        }
        // Only one worker's rename can succeed; the others find the file gone.
        guard rename(layout.inbox.appendingPathComponent(rel).path, target.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: dir)
            if code == ENOENT { return .gone }
            let folder = layout.inbox.appendingPathComponent(rel).deletingLastPathComponent().path
            return .fault(TransientFault(errno: code, folder: folder))
        }
        metrics.claimed()
        return .claimed(Claim(id: id, relative: rel))
    }

    /// A probe with no held file to retry: claim the next waiting file as the probe, or with none
    /// waiting ask the fault's folder whether it takes a file. Returns the file it consumed.
    func probeIntake(_ next: String?, queue: BoundedQueue<Claim>) -> String? {
        if let next {
            switch claim(next) {
            case .claimed(var claim):
                claim.probe = true
                queue.put(claim)
            case .gone: faults.probeReleased()
            case .fault(let fault): _ = faults.begin(fault, now: now(), wasProbe: true)
            }
            return next
        }
        if let folder = faults.current?.folder, let problem = FaultHold.problem(writingIn: folder) {
            _ = faults.begin(problem, now: now(), wasProbe: true)
        } else {
            clearFault()
        }
        return nil
    }

    /// Starts a fault that holds no file; the first one logs a line.
    func beginFault(_ fault: TransientFault) {
        if faults.begin(fault, now: now()) { logFault(fault) }
    }

    func logFault(_ fault: TransientFault) {
        metrics.faultBegan(fault.description)
        log(["event": "fault", "folder": fault.folder ?? "", "error": fault.reason, "fix": fault.remedy,
             "retry": "held files are retried from \(Int(FaultHold.firstDelay)) s, doubling to \(Int(FaultHold.longestDelay)) s; no new file is taken meanwhile"])
    }

    func clearFault() {
        if let fault = faults.succeeded() {
            metrics.faultCleared()
            log(["event": "fault-cleared", "folder": fault.folder ?? "", "error": fault.reason,
                 "held": String(faults.heldCount)])
            nudge()
        }
    }

    /// The service's own folders, made when it started: one that is gone means the inbox or
    /// outbox was removed or unmounted under it, a fault until they are back (never remade
    /// here, where they would land in the empty mount point).
    func checkFolders() {
        guard faults.current == nil else { return }
        for folder in [configuration.layout.processing, configuration.layout.work] {
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) || !isFolder.boolValue {
                beginFault(TransientFault(errno: ENOENT, folder: folder.path))
                return
            }
        }
    }

    /// Claims of workers that stopped without finishing them, taken over by renaming the claim
    /// folder (so two recovering workers cannot both take one).
    /// The extensions a work file can have: every one an output format writes (`OutputFormat`).
    static var workExtensions: Set<String> {
        Set(OutputFormat.allCases.filter { $0 != .same }.map { $0.fileExtension(forInput: "") } + ["tiff"])
    }

    func recoverDeadClaims() -> [Claim] {
        let layout = configuration.layout
        guard let ids = try? FileManager.default.contentsOfDirectory(atPath: layout.processing.path) else { return [] }
        var out: [Claim] = []
        for id in ids {
            guard let owner = id.split(separator: "~").first.map(String.init), owner != workerID,
                  !registry.isAlive(owner) else { continue }
            let mine = nextClaimID()
            guard rename(layout.processing.appendingPathComponent(id).path, layout.processing.appendingPathComponent(mine).path) == 0 else { continue }
            // The work file keeps the original claim id in its name; link it to the new one.
            for ext in Self.workExtensions {
                let old = layout.work.appendingPathComponent("\(id).\(ext)")
                if FileManager.default.fileExists(atPath: old.path) {
                    link(old.path, layout.work.appendingPathComponent("\(mine).\(ext)").path)
                    unlink(old.path)
                }
            }
            // A result the dead worker was still writing (AtomicWriter's temporary).
            AtomicWriter.removeStaleTemporaries(under: layout.work)
            let claimDir = layout.processing.appendingPathComponent(mine)
            var folders: [URL] = []
            let inputs = InboxLayout(inbox: claimDir, outbox: layout.outbox).scan(folders: &folders)
            if inputs.isEmpty {
                // The input was already retired: only the work file's last link remains.
                for ext in Self.workExtensions { unlink(layout.work.appendingPathComponent("\(mine).\(ext)").path) }
                removeClaimFolder(claimDir)
            }
            for rel in inputs {
                out.append(Claim(id: mine, relative: rel))
                metrics.claimed()
            }
            log(["event": "recovered", "from": owner, "claim": mine, "files": String(inputs.count),
                 "attempts": String(CrashGuard.attempts(in: claimDir))])
        }
        return out
    }

    func beat() {
        registry.beat()
        if let file = configuration.heartbeat {
            try? AtomicFile.write("\(Date().timeIntervalSince1970)\n", to: file)
        }
        metrics.beat()
    }

    // MARK: - Converting one claim

    func finish(_ claim: Claim, runner: GeneratorRunner) {
        defer { metrics.released() }
        let layout = configuration.layout
        let start = now()
        let claimDir = layout.processing.appendingPathComponent(claim.id)
        let input = claimDir.appendingPathComponent(claim.relative)
        let ext = configuration.convert.format.fileExtension(forInput: claim.relative)
        let work = layout.work.appendingPathComponent("\(claim.id).\(ext)")
        var recorded: Int?
        do {
            var st = stat()
            if stat(work.path, &st) != 0 {
                if !FileManager.default.fileExists(atPath: input.path) { return vanished(claim) }
                let data = try attempt(claimDir) {
                    recorded = lock.withLock { converting[claimDir] }
                    CrashGuard.testSeam(claim.relative)
                    return try conversion.convert(input, runner: runner, as: OutputFormat.imageFormat(forOutput: work))
                }
                // Into the work folder made at the start, never remade: if it is gone, so is the
                // outbox (removed or unmounted), and that is a fault until it is back.
                try AtomicWriter.write(data, to: work, mode: .replace, createFolder: false)
                st = stat()
                stat(work.path, &st)
            }
            var published: URL?
            if st.st_nlink < 2 {
                let rel = OutputNaming.relativeOutput(for: claim.relative, suffix: configuration.convert.suffix, format: configuration.convert.format)
                published = try publish(work, as: rel)
            }
            try retire(input, relative: claim.relative, to: layout.done)
            unlink(work.path)
            metrics.converted(seconds: now() - start)
            log(["event": "converted", "input": claim.relative, "output": published?.path ?? "(published before a restart)",
                 "seconds": String(format: "%.3f", now() - start)])
        } catch {
            var st = stat()
            if !FileManager.default.fileExists(atPath: input.path) && stat(work.path, &st) != 0 {
                if let recorded { withdrawAttempt(claimDir, recorded: recorded) }
                return vanished(claim)
            }
            if let fault = FaultHold.fault(in: error) {
                // Not the file's fault: it stays claimed (and a finished work file stays, to be
                // published on the retry), and the attempt is not charged to it.
                if let recorded { withdrawAttempt(claimDir, recorded: recorded) }
                hold(claim, fault)
                return
            }
            let reason = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            unlink(work.path)
            do {
                let moved = try InboxLayout.moveUnique(input, into: layout.failed, relative: claim.relative)
                writeErrorReport(for: moved, reason: reason)
            } catch {
                if let fault = FaultHold.fault(in: error) {
                    if let recorded { withdrawAttempt(claimDir, recorded: recorded) }
                    hold(claim, fault)
                    return
                }
            }
            metrics.failed()
            log(["event": "failed", "input": claim.relative, "error": reason])
        }
        removeClaimFolder(claimDir)
        // Finished either way (converted, or failed as bad input with its move to the failed
        // folder done): the file system took the writes, so a fault is over. A probe that ends
        // here must clear it, or no probe would ever be sent again.
        clearFault()
    }

    /// Holds `claim` for a transient fault; the first file a fault hits logs one line.
    private func hold(_ claim: Claim, _ fault: TransientFault) {
        if faults.hold(claim, fault, now: now(), wasProbe: claim.probe) { logFault(fault) }
    }

    /// The claimed input is gone before it was converted. With the claim folders gone too (the
    /// inbox removed or unmounted) that is a fault, and the claim is held until they are back;
    /// otherwise somebody deleted the file: it is dropped with a line, neither converted nor failed.
    private func vanished(_ claim: Claim) {
        let layout = configuration.layout
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: layout.processing.path, isDirectory: &isFolder), isFolder.boolValue else {
            return hold(claim, TransientFault(errno: ENOENT, folder: layout.processing.path))
        }
        removeClaimFolder(layout.processing.appendingPathComponent(claim.id))
        if claim.probe { faults.probeReleased() }
        log(["event": "vanished", "input": claim.relative, "reason": "the claimed file was deleted before it was converted"])
    }

    /// Links the finished work file to a free name in the outbox (never replacing anything).
    private func publish(_ work: URL, as rel: String) throws -> URL {
        let target = configuration.layout.outbox.appendingPathComponent(rel)
        guard FileManager.default.fileExists(atPath: configuration.layout.outbox.path) else {
            throw PipelineError.failed(.writeFailed, "\(configuration.layout.outbox.path): the outbox is gone", errno: ENOENT,
                                       path: configuration.layout.outbox.path + "/")
        }
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        for candidate in UniqueName.candidates(target) {
            if link(work.path, candidate.path) == 0 {
                // Durable before the input is retired: a power cut must not keep the retired
                // input and lose its output.
                AtomicFile.syncFolder(candidate.deletingLastPathComponent())
                return candidate
            }
            guard errno == EEXIST else {
                throw PipelineError.failed(.writeFailed, "\(candidate.path): cannot publish", errno: errno, path: candidate.path)
            }
        }
        throw PipelineError(.writeFailed, "\(target.path): no free name")
    }

    private func retire(_ input: URL, relative: String, to done: URL) throws {
        guard FileManager.default.fileExists(atPath: input.path) else {
            // Retired before a restart, or deleted: nothing to move. But with the claim folders
            // gone (the inbox unmounted) the input is only out of sight: hold the claim, whose
            // published work file says to retire it when they are back.
            let processing = configuration.layout.processing.path
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: processing, isDirectory: &isFolder) || !isFolder.boolValue {
                throw PipelineError.failed(.writeFailed, "\(processing): the inbox's claim folder is gone", errno: ENOENT, path: processing + "/")
            }
            return
        }
        if configuration.deleteInputs {
            unlink(input.path)
        } else {
            try InboxLayout.moveUnique(input, into: done, relative: relative)
        }
    }

    private func writeErrorReport(for moved: URL, reason: String) {
        let report: [String: String] = ["file": moved.lastPathComponent, "reason": reason,
                                        "time": ISO8601DateFormatter().string(from: Date()), "version": "gantry \(GantryRelease.version)",
                                        "worker": workerID]
        guard let data = try? JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]) else { return }
        let url = moved.deletingLastPathComponent().appendingPathComponent(moved.lastPathComponent + ".error.json")
        for candidate in UniqueName.candidates(url).prefix(10_000) {
            do { try AtomicWriter.write(data, to: candidate, mode: .createNew); return } catch {
                if !FileManager.default.fileExists(atPath: candidate.path) { return }
            }
        }
    }

    /// Removes a claim folder once no input is left in it, with the worker's own hidden files
    /// (the attempt count and its temporaries; inputs are never hidden).
    private func removeClaimFolder(_ dir: URL) {
        var folders: [URL] = []
        guard InboxLayout(inbox: dir, outbox: configuration.layout.outbox).scan(folders: &folders).isEmpty else { return }
        try? FileManager.default.removeItem(at: dir)
    }
}
