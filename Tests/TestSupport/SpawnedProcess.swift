import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child started as a shell would start it: default signal dispositions and no blocked
/// signals. Foundation's `Process` passes on the test runner's signal mask, in which SIGTERM and
/// SIGINT are blocked; a child that installs ordinary handlers (mpirun) then never sees them.
/// Output goes to /dev/null, or to the file `output` (stdout and stderr, created or emptied).
public final class SpawnedProcess {
    public let pid: pid_t

    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], output: String? = nil) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child = pid_t()
        let rc = posix_spawn(&child, executable.path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "posix_spawn \(executable.path): \(String(cString: strerror(rc)))"]) }
        pid = child
    }

    /// Whether the child is still running (not yet reaped).
    public var isRunning: Bool { kill(pid, 0) == 0 && !reaped }
    private var reaped = false
    private var status: Int32 = 0

    /// Waits for the child; its exit status (128 + signal when a signal ended it).
    @discardableResult
    public func wait() -> Int32 {
        if !reaped {
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            reaped = true
            status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        }
        return status
    }
}
