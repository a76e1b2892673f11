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

    func claim(_ rel: String) -> Claim? {
        let layout = configuration.layout
        let id = nextClaimID()
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
            for ext in ["png", "jpg"] {
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
                for ext in ["png", "jpg"] { unlink(layout.work.appendingPathComponent("\(mine).\(ext)").path) }
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
                let data = try attempt(claimDir) {
                    recorded = lock.withLock { converting[claimDir] }
                    CrashGuard.testSeam(claim.relative)
                    return try conversion.convert(input, runner: runner, as: OutputFormat.imageFormat(forOutput: work))
                }
                try AtomicWriter.write(data, to: work, mode: .replace)
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
            if let fault = TransientFault.find(in: error) {
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
                if let fault = TransientFault.find(in: error) {
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
        if let fault = faults.succeeded() {
            metrics.faultCleared()
            log(["event": "fault-cleared", "folder": fault.folder ?? "", "error": fault.reason,
                 "held": String(faults.heldCount)])
            nudge()
        }
    }

    /// Holds `claim` for a transient fault; the first file a fault hits logs one line.
    private func hold(_ claim: Claim, _ fault: TransientFault) {
        if faults.hold(claim, fault, now: now(), wasProbe: claim.probe) {
            metrics.faultBegan(fault.description)
            log(["event": "fault", "folder": fault.folder ?? "", "error": fault.reason,
                 "retry": "held files are retried from \(Int(FaultHold.firstDelay)) s, doubling to \(Int(FaultHold.longestDelay)) s; no new file is taken meanwhile"])
        }
    }

    /// Links the finished work file to a free name in the outbox (never replacing anything).
    private func publish(_ work: URL, as rel: String) throws -> URL {
        let target = configuration.layout.outbox.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        for candidate in UniqueName.candidates(target) {
            if link(work.path, candidate.path) == 0 {
                // Durable before the input is retired: a power cut must not keep the retired
                // input and lose its output.
                AtomicFile.syncFolder(candidate.deletingLastPathComponent())
                return candidate
            }
            guard errno == EEXIST else {
                throw PipelineError.failed(.writeFailed, "\(candidate.path): cannot publish", errno: errno)
            }
        }
        throw PipelineError(.writeFailed, "\(target.path): no free name")
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
