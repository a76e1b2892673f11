/// A failure of the distributed runtime: what failed, how to fix it, and the cause.
public struct DistributedError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// libmpi could not be loaded or lacks a symbol.
        case library
        /// An MPI call returned an error.
        case call
        /// The ranks disagree (sizes, options, data): the job cannot go on.
        case mismatch
    }

    public var code: Code
    public var message: String
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        (self.code, self.message, self.cause) = (code, message, cause)
    }

    public var description: String { cause.map { "\(message) (\($0))" } ?? message }
}
