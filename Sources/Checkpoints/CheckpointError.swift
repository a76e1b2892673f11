import AtomicFiles
import Foundation
/// Why a checkpoint could not be loaded.
///
/// Every failure of `Checkpoint.load` — unreadable file, unknown format, truncated
/// or corrupt data, a refused pickle global — is reported as one of these, never
/// as a crash. `description` is a single line meant to be shown to the user as is.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    /// Broad category of the failure, stable enough to branch on.
    public enum Code: String, Sendable {
        /// The file could not be opened or read.
        case unreadable
        /// The file has zero bytes.
        case empty
        /// The content is not a PyTorch or safetensors checkpoint.
        case unknownFormat
        /// The file ends before the data it announces.
        case truncated
        /// The file is structurally invalid (bad offsets, inconsistent sizes, malformed pickle).
        case corrupt
        /// A valid file using a feature Gantry does not read (compression, an exotic dtype, …).
        case unsupported
        /// The pickle names a Python global outside the allow-list; loading never runs code.
        case refusedGlobal
        /// The file loads but does not hold a single dict of tensors.
        case notAStateDict
        /// Writing a checkpoint failed (full disk, permissions, I/O error): see `cause`.
        case writeFailed
    }

    /// Broad category of the failure.
    public let code: Code
    /// The file the error is about.
    public let path: String
    /// What is wrong and, where possible, how to fix it.
    public let message: String
    /// Lower-level detail (e.g. a system error), if any.
    public let underlying: String?
    /// The error underneath, e.g. an `AtomicFileError` with the path and errno of a failed write.
    public var cause: (any Error)?

    /// Creates an error; `message` should say what is wrong and how to fix it.
    public init(code: Code, path: String, message: String, underlying: String? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.underlying = underlying
    }

    /// One line: `<path>: <message>`, plus the underlying detail in parentheses when present.
    public var description: String {
        var line = path.isEmpty ? message : "\(path): \(message)"
        if let underlying { line += " (\(underlying))" }
        return line
    }
}

extension CheckpointError {
    /// A failed write of `what`, keeping the path, the OS error and the write error itself.
    init(writing error: AtomicFileError, what: String) {
        self.init(code: .writeFailed, path: error.path, message: "cannot write the \(what): \(error.message)",
                  underlying: error.errno.map { String(cString: strerror($0)) } ?? error.cause.map { "\($0)" })
        cause = error
    }
}

/// A failure found while parsing, before the path is known to the parser.
///
/// Parsers work on bytes and do not know the file name; `Checkpoint.load` turns
/// these into `CheckpointError`s carrying the path.
struct ParseError: Error {
    let code: CheckpointError.Code
    let message: String

    init(_ code: CheckpointError.Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func truncated(_ what: String) -> ParseError {
        ParseError(.truncated, "file is truncated: \(what) runs past the end of the file (was the download or copy interrupted?)")
    }

    static func corrupt(_ what: String) -> ParseError {
        ParseError(.corrupt, "file is corrupt: \(what)")
    }
}
