/// Why a training component refused: a bad setting, a gradient that does not fit its parameter,
/// or a saved optimizer state that does not belong to this run. `description` is one line meant
/// to be shown to the user as is.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// A hyper-parameter or argument out of range (negative lr, pool size < 0, …).
        case invalidSetting
        /// A tensor whose shape does not fit (a gradient vs its parameter, an image vs the pool).
        case shapeMismatch
        /// A state file that cannot be read or is not an optimizer state file.
        case unreadableState
        /// A state file that reads but does not match the optimizers and schedulers it is loaded into.
        case stateMismatch
        /// The state file could not be written.
        case writeFailed
        /// A run folder's file (config.yaml, losses.jsonl, state.json, a checkpoint) that is
        /// missing, unreadable or not what `gantry train` writes.
        case unreadableRun
        /// A choice among a run's networks or epochs that the run does not have.
        case notInRun
        /// A loss became infinite or NaN: the step's weights are not saved.
        case diverged
        /// The ranks of a data-parallel job failed to exchange what they share, or disagree.
        case ranks
        /// A training file could not be read for a reason that is not the file's (an I/O error,
        /// a share gone): a fault to clear, then `--continue`, not bad data.
        case readFailed
    }

    public let code: Code
    public let message: String
    /// The error underneath, e.g. an `AtomicFileError` with the path and errno of a failed write.
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
