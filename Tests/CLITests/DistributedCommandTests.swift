import Distributed
import Foundation
import Testing
import TestSupport

/// Gantry under Open MPI's mpirun, for real: ranks start, load libmpi, and sum in rank order
/// whatever the MPI library's algorithm; without a launcher gantry never touches MPI.
struct DistributedCommandTests {
    /// Open MPI's launcher, or nil (then the test says it did not run; under CI it fails).
    static func mpirun(for check: String) -> URL? {
        let path = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
        if path == nil {
            print("SKIPPED \(check): mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)")
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "CI installs Open MPI: mpirun must be there")
        }
        return path.map(URL.init(fileURLWithPath:))
    }

    /// mpirun as root (CI runs as root) with more ranks than cores allowed.
    static func launch(_ ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult? {
        guard let mpirun = mpirun(for: "mpirun -np \(ranks) gantry \(arguments.first ?? "")") else { return nil }
        return try runCommand(mpirun, ["-np", "\(ranks)", "--oversubscribe", "--bind-to", "none", gantryExecutable.path] + arguments,
                              environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"].merging(environment) { $1 })
    }

    static func json(_ text: String) throws -> [String: Any] {
        let line = try #require(text.split(separator: "\n").last { $0.hasPrefix("{") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test(arguments: [2, 3])
    func ranksSumInRankOrder(ranks: Int) throws {
        guard let r = try Self.launch(ranks, ["bench-allreduce", "--runs", "1"]) else { return }
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let result = try Self.json(r.stdout)
        #expect(result["ranks"] as? Int == ranks && result["launcher"] as? String == "mpirun")
        #expect(result["correct_on_every_rank"] as? Bool == true, "\(result)")
        #expect(result["bytes_per_step"] as? Int == 113_143_328, "CycleGAN's four networks: 28,285,832 float gradients")
        // Only rank 0 prints.
        #expect(r.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 1)
    }

    @Test func theLibraryOrderSumsToo() throws {
        guard let r = try Self.launch(2, ["bench-allreduce", "--runs", "1", "--algorithm", "mpi", "--model", "pix2pix"]) else { return }
        #expect(r.status == 0, "\(r.stderr)")
        let result = try Self.json(r.stdout)
        #expect(result["correct_on_every_rank"] as? Bool == true && result["bytes_per_step"] as? Int == 228_730_640)
    }

    /// Started on its own, gantry is one rank and loads no libmpi, even where none exists.
    @Test func withoutALauncherThereIsNoMPI() throws {
        let r = try runGantry(["bench-allreduce", "--runs", "1"], environment: ["GANTRY_LIBMPI": "/nonexistent/libmpi.so"])
        #expect(r.status == 0, "\(r.stderr)")
        let result = try Self.json(r.stdout)
        #expect(result["ranks"] as? Int == 1 && result["launcher"] as? String == "none")
    }

    /// Launched by MPI without a loadable libmpi: one line that says what to install.
    @Test func aMissingLibraryIsOneLine() throws {
        let r = try runGantry(["bench-allreduce", "--runs", "1"], environment: [
            "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0", "GANTRY_LIBMPI": "/nonexistent/libmpi.so",
        ])
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && r.stderr.contains("libmpi") && r.stderr.contains("apt-get install"), "\(r.stderr)")
    }

    @Test func launchersAreRecognisedFromTheirEnvironment() {
        #expect(MPILaunch.detect([:]) == nil)
        #expect(MPILaunch.detect(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "3"]) == MPILaunch(launcher: "mpirun", rank: 3, size: 4))
        #expect(MPILaunch.detect(["PMIX_RANK": "1", "SLURM_NTASKS": "8"]) == MPILaunch(launcher: "PMIx", rank: 1, size: 8))
        #expect(MPILaunch.detect(["SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_STEP_ID": "0"]) == MPILaunch(launcher: "srun", rank: 2, size: 4))
        // A batch script's own environment (no job step) is not a launch.
        #expect(MPILaunch.detect(["SLURM_PROCID": "0", "SLURM_NTASKS": "4"]) == nil)
    }
}
