/// An error from the tensor engine: a shape that an op cannot take, or a compute-library failure.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case shapeMismatch
        case unsupported
        case library
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
