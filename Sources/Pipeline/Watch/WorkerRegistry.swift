import AtomicFiles
import Foundation

/// The workers of one inbox, and whether the owner of a claim is still running.
///
/// Each worker holds an exclusive `flock` on its own file in `INBOX/.workers/` for its whole life.
/// The kernel drops that lock however the process ends (SIGKILL, the OOM killer), so on one
/// kernel "the lock is free" means "the owner is dead" even when a new process got the dead one's
/// PID — in a container gantry is PID 1 with a stable host name on every start.
///
/// Locks are only trusted between processes of one kernel (same boot id, or the same host name
/// when there is none): NFS may not carry locks between machines, and a gVisor sandbox keeps its
/// own. A worker of another machine counts as alive while its lock is held here or its heartbeat
/// (the file's mtime, touched every 2 s) is younger than `staleAfter` seconds.
final class WorkerRegistry: @unchecked Sendable {
    /// What tells one kernel from another.
    struct Machine: Equatable, Sendable {
        var host: String
        var bootID: String?

        static let current = Machine(host: currentHostName(), bootID: readBootID())

        /// Same kernel, so flock between us is authoritative. Host names are compared exactly:
        /// `gantry` and `gantry-2` are two machines.
        func sharesKernel(with other: Machine) -> Bool {
            if let a = bootID, let b = other.bootID { return a == b }
            return host == other.host
        }
    }

    let folder: URL
    let machine: Machine
    let staleAfter: Double
    /// This worker's id: claim folders are named `<id>~<n>`.
    let id: String
    private var fd: Int32 = -1
    private(set) var holdsLock = false

    init(folder: URL, machine: Machine = .current, staleAfter: Double = 30) {
        self.folder = folder
        self.machine = machine
        self.staleAfter = staleAfter
        // A random part, not the start time: a restarted PID 1 within the same second must not
        // take the dead worker's id (and with it, its claims as its own).
        let host = String(machine.host.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" })
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        id = "\(host.isEmpty ? "host" : host)-\(getpid())-\(random)"
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Creates and locks this worker's file. The file is locked under its temporary name first
    /// and only then published, so no other worker can ever see it unlocked and remove it.
    func register() throws {
        let final = folder.appendingPathComponent(id)
        let record = "host=\(machine.host)\nboot=\(machine.bootID ?? "")\npid=\(getpid())\n"
        do {
            fd = try AtomicFile.writeKeepingOpen(to: final) { sink in
                // A file system without locks (NFS mounted with nolock) leaves us with the heartbeat rule.
                holdsLock = flock(sink.heldFD, LOCK_EX | LOCK_NB) == 0
                try sink.write(Data(record.utf8))
            }
        } catch {
            throw PipelineError(.writeFailed, "\(error): cannot register the worker; check that the inbox is writable", cause: error)
        }
    }

    /// Touches the file (its mtime is the heartbeat other machines read).
    func beat() {
        if fd >= 0 { futimens(fd, nil) }
    }

    /// Removes the file, then lets go of the lock: nobody sees it unlocked while it is there.
    func unregister() {
        guard fd >= 0 else { return }
        unlink(folder.appendingPathComponent(id).path)
        close(fd)
        fd = -1
    }

    /// Whether the worker `owner` may still be converting its claims. A dead worker of this
    /// machine has its file removed here (once, by whoever finds it dead).
    func isAlive(_ owner: String) -> Bool {
        if owner == id { return true }
        let path = folder.appendingPathComponent(owner).path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            // No file: it unregistered, or a worker that found it dead removed it.
            return errno != ENOENT
        }
        defer { close(fd) }
        let locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        if !locked && errno == EWOULDBLOCK { return true }
        if locked, let record = Self.record(fd), record.sharesKernel(with: machine) {
            // The unlink happens while we hold the lock, so it cannot hit a live worker's file.
            unlink(path)
            return false
        }
        // Another machine, a file system without locks, or a worker of an older gantry (whose file
        // holds only a time stamp): dead only once its heartbeat has stopped.
        var st = stat()
        guard fstat(fd, &st) == 0 else { return true }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        return Date().timeIntervalSince1970 - mtime < staleAfter
    }

    /// Removes the files of dead workers of this machine that left no claims behind.
    func removeDeadEntries() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name != id && !name.hasPrefix(".") {
            if name.hasSuffix(".new") {
                // A worker of an older gantry that died between creating and publishing its file.
                var st = stat()
                let path = folder.appendingPathComponent(name).path
                if stat(path, &st) == 0, Date().timeIntervalSince1970 - Double(st.st_mtim.tv_sec) > staleAfter { unlink(path) }
            } else {
                _ = isAlive(name)
            }
        }
    }

    private static func record(_ fd: Int32) -> Machine? {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        var fields: [Substring: Substring] = [:]
        for line in String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[line[..<eq]] = line[line.index(after: eq)...]
        }
        guard let host = fields["host"] else { return nil }
        let boot = fields["boot"].map(String.init)
        return Machine(host: String(host), bootID: boot?.isEmpty == false ? boot : nil)
    }
}

private func currentHostName() -> String {
    var host = [CChar](repeating: 0, count: 256)
    gethostname(&host, 255)
    return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func readBootID() -> String? {
    let text = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines)
    return text?.isEmpty == false ? text : nil
}
