/// An error that stops a whole run (bad options, missing input, unusable model), as opposed to
/// one input failing.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case inputMissing, outputExists, invalidDefinition, writeFailed, listenFailed, addressNotFound
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
