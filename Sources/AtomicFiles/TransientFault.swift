import Foundation

/// An error that wraps another (its `cause`), so a fault can be found under any wrapping.
public protocol CausedError: Error {
    var underlyingError: (any Error)? { get }
    /// The file or folder the failure is about, when the error knows it.
    var faultPath: String? { get }
}

extension CausedError {
    public var faultPath: String? { nil }
}

extension AtomicFileError: CausedError {
    public var underlyingError: (any Error)? { cause }
}

/// A failed file operation that is a fault of the system, not of the input: the disk or quota
/// is full, a device returns I/O errors, a folder became read-only, closed to us, vanished or
/// went stale, descriptors ran out. Such a fault may pass, so nothing good is failed for it:
/// `watch` holds the file and retries, `convert` stops so that a rerun finishes the rest, and
/// training stops with its last complete state.
///
/// A file that cannot be decoded is bad input, and a name that cannot exist (ENAMETOOLONG) is
/// too. On the input side only `inputCodes` count: an input closed to us (EACCES) or deleted
/// (ENOENT) is the file's own state, not the system's.
public struct TransientFault: Sendable, CustomStringConvertible, Equatable {
    public let errno: Int32
    /// The file or folder the operation was on, when the error says.
    public let path: String?

    /// The folder the fault is in, when known better than from `path` (a folder that is gone).
    private let knownFolder: String?

    public init(errno: Int32, path: String?) {
        (self.errno, self.path, knownFolder) = (errno, path, nil)
    }

    /// A fault in (or of) the folder `folder` itself: it is missing, read-only, closed to us.
    public init(errno: Int32, folder: String) {
        (self.errno, path, knownFolder) = (errno, folder, folder)
    }

    /// ENOSPC, EDQUOT, EIO, EROFS, EACCES, EPERM, ENOENT (a folder removed or unmounted under a
    /// running process), ESTALE, EMFILE, ENFILE, ENOMEM.
    public static let codes: Set<Int32> = [ENOSPC, EDQUOT, EIO, EROFS, EACCES, EPERM, ENOENT, ESTALE, EMFILE, ENFILE, ENOMEM]

    /// Errors reading an input that a retry may cure: EIO, ESTALE, EMFILE, ENFILE, ENOMEM.
    public static let inputCodes: Set<Int32> = [EIO, ESTALE, EMFILE, ENFILE, ENOMEM]

    /// The OS's words for it ("No space left on device").
    public var reason: String { String(cString: strerror(errno)) }

    /// The folder the fault is in (the path's folder when the path names a file).
    public var folder: String? {
        if let knownFolder { return knownFolder }
        guard let path else { return nil }
        // A path written with a trailing slash names a folder, even one that is gone.
        if path.count > 1 && path.hasSuffix("/") { return String(path.dropLast()) }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { return path }
        return (path as NSString).deletingLastPathComponent
    }

    /// What clears it, in a few words for a message ("free space there").
    public var remedy: String {
        switch errno {
        case ENOSPC, EDQUOT: "free space there"
        case EIO, ESTALE: "check the disk or share"
        case EROFS: "make it writable again"
        case EACCES, EPERM: "give this user access to it"
        case ENOENT: "put the folder back, or mount it again"
        case EMFILE, ENFILE: "raise the open-file limit, or close other programs"
        case ENOMEM: "free memory"
        default: "fix the folder"
        }
    }

    public var description: String { path.map { "\($0): \(reason)" } ?? reason }

    /// The transient fault underneath `error`, looking through causes (`CausedError`), POSIX
    /// errors and Foundation's file errors; nil when the failure is not one.
    public static func find(in error: any Error) -> TransientFault? {
        var seen = 0
        var next: (any Error)? = error
        var path: String?
        while let e = next, seen < 16 {
            seen += 1
            if let a = e as? AtomicFileError {
                path = path ?? a.path
                if let code = a.errno { return codes.contains(code) ? TransientFault(errno: code, path: a.path) : nil }
            }
            if let p = e as? POSIXError { return codes.contains(p.code.rawValue) ? TransientFault(errno: p.code.rawValue, path: path) : nil }
            if let caused = e as? CausedError {
                path = path ?? caused.faultPath
                next = caused.underlyingError
                continue
            }
            let ns = e as NSError
            if ns.domain == NSPOSIXErrorDomain {
                let code = Int32(ns.code)
                return codes.contains(code) ? TransientFault(errno: code, path: path ?? ns.userInfo[NSFilePathErrorKey] as? String) : nil
            }
            if ns.domain == NSCocoaErrorDomain {
                path = path ?? ns.userInfo[NSFilePathErrorKey] as? String
                if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
                    next = underlying
                    continue
                }
                switch CocoaError.Code(rawValue: ns.code) {
                case .fileWriteOutOfSpace: return TransientFault(errno: ENOSPC, path: path)
                case .fileWriteVolumeReadOnly: return TransientFault(errno: EROFS, path: path)
                case .fileWriteNoPermission, .fileReadNoPermission: return TransientFault(errno: EACCES, path: path)
                default: return nil
                }
            }
            return nil
        }
        return nil
    }
}
