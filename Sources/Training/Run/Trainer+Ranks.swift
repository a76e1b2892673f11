import Distributed
import Foundation
import Runs

/// A trainer as one rank of a data-parallel job (`DataParallel`).
extension Trainer {
    /// Builds the trainer on every rank of `group` (for a process started without MPI, simply
    /// `build()`): a failure on any rank becomes every rank's error, naming the rank, so none
    /// waits for a peer that will never come; then the ranks check they run the same binary,
    /// options and data, and take rank 0's weights.
    public static func start(in group: ProcessGroup, _ build: () throws -> Trainer) throws -> Trainer {
        guard group.launch != nil else { return try build() }
        var trainer: Trainer?, failure: Error?
        do { trainer = try build() } catch { failure = error }
        try DataParallel.agree(group, error: failure)
        guard let trainer, let parallel = trainer.parallel else {
            throw TrainingError(.ranks, "rank \(group.rank): the trainer was not built for the launched group")
        }
        try parallel.join(trainer)
        return trainer
    }

    /// The rank of this process in its job (0 without MPI), and the number of ranks.
    public var rank: (rank: Int, of: Int) { (parallel?.rank ?? 0, parallel?.size ?? 1) }
}
