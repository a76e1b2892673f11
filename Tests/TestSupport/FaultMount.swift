import Foundation

/// A small tmpfs mounted for one test, to give a real process real faults: ENOSPC when it fills,
/// EROFS once remounted read-only. Needs root and mount(8), as CI and our machines run the tests;
/// where it cannot be had, `make` returns nil and says why, and the test prints that it was
/// skipped rather than passing silently.
public final class FaultMount: @unchecked Sendable {
    public let url: URL
    private let tmp: TemporaryDirectory

    /// A tmpfs of `bytes` (rounded up to pages by the kernel), or nil with the reason.
    public static func make(bytes: Int) -> (mount: FaultMount?, whyNot: String?) {
        guard getuid() == 0 else { return (nil, "not root, so no tmpfs can be mounted") }
        do {
            let m = try FaultMount(bytes: bytes)
            return (m, nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    private init(bytes: Int) throws {
        tmp = try TemporaryDirectory()
        url = tmp.url.appendingPathComponent("mnt")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try Self.mount(["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", url.path])
    }

    public func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }

    /// Grows (or shrinks) the file system: space freed, as a user would free it.
    public func resize(bytes: Int) throws { try Self.mount(["-o", "remount,size=\(bytes)", url.path]) }

    /// Read-only (EROFS for every write) or writable again.
    public func setReadOnly(_ readOnly: Bool) throws {
        try Self.remount(readOnly ? "remount,ro" : "remount,rw", url.path, retryingBusy: readOnly)
    }

    /// Shows the folder `source` at `target` as well (a bind mount), read-only there if asked:
    /// a folder that can be made to vanish (`unmount`) and come back with its files, as an
    /// unmounted and remounted network share does.
    public static func bind(_ source: String, at target: String, readOnly: Bool = false) throws {
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try mount(["--bind", source, target])
        if readOnly { try setBoundReadOnly(target, true) }
    }

    /// A bind mount made read-only, or writable again (the folder it shows stays writable elsewhere).
    public static func setBoundReadOnly(_ target: String, _ readOnly: Bool) throws {
        try remount(readOnly ? "remount,bind,ro" : "remount,bind,rw", target, retryingBusy: readOnly)
    }

    /// The kernel refuses a read-only remount (EBUSY, "mount point is busy") while any write
    /// through the mount is in flight — a running watch touching its heartbeat file or probing
    /// the inbox, for microseconds — so a busy refusal is retried for up to 10 s.
    private static func remount(_ options: String, _ target: String, retryingBusy: Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                return try mount(["-o", options, target])
            } catch let error as NSError where retryingBusy && error.localizedDescription.contains("busy") && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// Unmounts `target` (lazily if busy), leaving the empty folder under it.
    public static func unmount(_ target: String) throws {
        if try runCommand(URL(fileURLWithPath: "/bin/umount"), [target]).status == 0 { return }
        let r = try runCommand(URL(fileURLWithPath: "/bin/umount"), ["-l", target])
        guard r.status == 0 else {
            throw NSError(domain: "FaultMount", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: "umount \(target) failed: \(r.stderr)"])
        }
    }

    /// Whether `path` is a mount point now.
    public static func isMounted(_ path: String) -> Bool {
        ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == path }
    }

    deinit {
        _ = try? runCommand(URL(fileURLWithPath: "/bin/umount"), ["-l", url.path])
    }

    private static func mount(_ arguments: [String]) throws {
        let r = try runCommand(URL(fileURLWithPath: "/bin/mount"), arguments)
        guard r.status == 0 else {
            throw NSError(domain: "FaultMount", code: Int(r.status),
                          userInfo: [NSLocalizedDescriptionKey: "mount \(arguments.joined(separator: " ")) failed: \(r.stderr)"])
        }
    }
}
