import AtomicFiles
import Foundation

/// An error that stops a whole run (bad options, missing input, unusable model), as opposed to
/// one input failing.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case inputMissing, unsupportedFormat, outputExists, invalidDefinition, writeFailed, listenFailed, addressNotFound
    }

    public let code: Code
    public let message: String
    /// The error underneath, e.g. an `AtomicFileError` with the path and errno of a failed write.
    public let cause: (any Error)?
    /// The file or folder a failed system call was on (for `TransientFault`).
    public var path: String?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}

extension PipelineError: CausedError {
    public var underlyingError: (any Error)? { cause }
    public var faultPath: String? { path }
}

extension PipelineError {
    /// A failed system call on `path`, keeping its errno as the cause (so `TransientFault.find`
    /// can tell a full disk from bad input).
    static func failed(_ code: Code, _ message: String, errno: Int32, path: String? = nil) -> PipelineError {
        var e = PipelineError(code, "\(message) (\(String(cString: strerror(errno))))",
                              cause: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO))
        e.path = path
        return e
    }
}
