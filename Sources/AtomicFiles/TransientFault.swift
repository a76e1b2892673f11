import Foundation

/// An error that wraps another (its `cause`), so a fault can be found under any wrapping.
public protocol CausedError: Error {
    var underlyingError: (any Error)? { get }
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
/// Only the output side is classified this way: a file that cannot be decoded is bad input, and
/// a name that cannot exist (ENAMETOOLONG) is too.
public struct TransientFault: Sendable, CustomStringConvertible, Equatable {
    public let errno: Int32
    /// The file or folder the operation was on, when the error says.
    public let path: String?

    public init(errno: Int32, path: String?) {
        (self.errno, self.path) = (errno, path)
    }

    /// ENOSPC, EDQUOT, EIO, EROFS, EACCES, EPERM, ENOENT (a folder removed or unmounted under a
    /// running process), ESTALE, EMFILE, ENFILE, ENOMEM.
    public static let codes: Set<Int32> = [ENOSPC, EDQUOT, EIO, EROFS, EACCES, EPERM, ENOENT, ESTALE, EMFILE, ENFILE, ENOMEM]

    /// The OS's words for it ("No space left on device").
    public var reason: String { String(cString: strerror(errno)) }

    /// The folder the fault is in (the path's folder when the path names a file).
    public var folder: String? {
        guard let path else { return nil }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { return path }
        return (path as NSString).deletingLastPathComponent
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
