/// How this process was started: alone, or as one rank of an MPI job.
///
/// Open MPI's `mpirun` sets `OMPI_COMM_WORLD_SIZE`/`_RANK`; a PMIx launch (`srun --mpi=pmix`, the
/// MPI Operator's mpirun) sets `PMIX_RANK`; Slurm's `srun` sets `SLURM_PROCID`/`SLURM_NTASKS`.
/// Without any of them gantry is a single process and never loads libmpi.
public struct MPILaunch: Equatable, Sendable {
    /// Which launcher's variables said so, for messages.
    public var launcher: String
    /// The rank and world size the launcher announced (MPI_Init confirms them).
    public var rank: Int
    public var size: Int

    public init(launcher: String, rank: Int, size: Int) {
        (self.launcher, self.rank, self.size) = (launcher, rank, size)
    }

    /// The launch the environment describes, or nil for a process started on its own. A launch
    /// of one process is still a launch: `mpirun -np 1` trains exactly as a lone process, through
    /// the same collectives.
    public static func detect(_ environment: [String: String]) -> MPILaunch? {
        func int(_ key: String) -> Int? { environment[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
        if let size = int("OMPI_COMM_WORLD_SIZE"), let rank = int("OMPI_COMM_WORLD_RANK"), rank >= 0 {
            return MPILaunch(launcher: "mpirun", rank: rank, size: size)
        }
        if let rank = int("PMIX_RANK"), rank >= 0 {
            return MPILaunch(launcher: "PMIx", rank: rank, size: int("SLURM_NTASKS") ?? int("OMPI_COMM_WORLD_SIZE") ?? 0)
        }
        if let rank = int("SLURM_PROCID"), let size = int("SLURM_NTASKS"), size > 1, rank >= 0, environment["SLURM_STEP_ID"] != nil {
            return MPILaunch(launcher: "srun", rank: rank, size: size)
        }
        return nil
    }
}
