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
    public func setReadOnly(_ readOnly: Bool) throws { try Self.mount(["-o", readOnly ? "remount,ro" : "remount,rw", url.path]) }

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
