/// An error from the tensor engine: a shape that an op cannot take, or a compute-library failure.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case shapeMismatch
        case unsupported
        case library
        /// Memory for a tensor could not be had: the message says how much and what to change.
        case outOfMemory
    }

    public let code: Code
    public let message: String

    /// For `outOfMemory`: the size that could not be had.
    public internal(set) var requestedBytes: Int?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func outOfMemory(_ bytes: Int) -> EngineError {
        var e = EngineError(.outOfMemory, "out of memory: could not allocate \(bytes >> 20) MB for a tensor (free memory, or ask for less: a lower memory limit for conversions, smaller images, batches or networks)")
        e.requestedBytes = bytes
        return e
    }
}
