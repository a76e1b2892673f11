import ArgumentParser
import Distributed
import Foundation
import Models

/// Times the gradient all-reduce of one training iteration across the ranks of an MPI job, and
/// checks that every rank got the right sums: `mpirun -np N gantry bench-allreduce`. Started
/// without MPI it is one rank, and says so.
struct BenchAllReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-allreduce",
        abstract: "Time and check the gradient all-reduce of one training iteration across MPI ranks (run it under mpirun or srun).",
        discussion: "Each iteration sums the generators' gradients and then the discriminators' (two all-reduces, as a training step does), with the reference networks' parameter counts (ngf = ndf = 64). Prints one JSON line on rank 0: ranks, hosts, bytes, median seconds and bus bandwidth (2(N−1)/N × bytes / time)."
    )

    @Option(help: "cyclegan (2× resnet_9blocks + 2× basic D) or pix2pix (unet_256 + basic D with 6 input channels).")
    var model = "cyclegan"

    @Option(help: "Timed iterations (the median is reported).")
    var runs = 5

    @Option(help: "rank-order (Gantry's: rank 0's + rank 1's + … for every element, whatever the library's algorithm) or mpi (MPI_Allreduce's own order, for comparison).")
    var algorithm = "rank-order"

    func validate() throws {
        guard ["cyclegan", "pix2pix"].contains(model) else { throw ValidationError("--model must be cyclegan or pix2pix, got '\(model)'") }
        guard ["rank-order", "mpi"].contains(algorithm) else { throw ValidationError("--algorithm must be rank-order or mpi, got '\(algorithm)'") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    /// The two gradient buffers of one iteration, G's first, in values.
    func bufferSizes() throws -> [Int] {
        if model == "cyclegan" {
            let g = try Generator(.resnet(blocks: 9)).parameterCount
            let d = try Discriminator(.nLayers(3, ndf: 64, norm: .instance)).parameterCount
            return [2 * g, 2 * d]
        }
        return [try Generator(.unet(downs: 8)).parameterCount,
                try Discriminator(.nLayers(3, ndf: 64, norm: .batch, inputChannels: 6)).parameterCount]
    }

    /// Whether the rank-order sum is, bit for bit, rank 0's + rank 1's + … on values whose float
    /// sums depend on the order of three or more terms (two terms add alike either way, so only
    /// N ≥ 3 can catch a wrong order); 10,007 values, a multiple of no N.
    func sumsInRankOrder(_ group: ProcessGroup) throws -> Bool {
        func value(_ rank: Int, _ i: Int) -> Float { Float(sin(Double(i * 7919 + rank * 104_729 + 1)) * 1000) }
        var values = (0..<10_007).map { value(group.rank, $0) }
        try group.sumInRankOrder(&values)
        return values.indices.allSatisfy { i in
            var expected = value(0, i)
            for r in 1..<max(group.size, 1) { expected += value(r, i) }
            return values[i].bitPattern == expected.bitPattern
        }
    }

    func run() throws {
        let group: ProcessGroup
        do { group = try ProcessGroup.start() } catch { throw fail("\(error)") }
        defer { group.finish() }
        let sizes = try bufferSizes()
        // Small integers: every partial sum is exact in float, so the result is known exactly.
        func fill(_ count: Int) -> [Float] { (0..<count).map { Float($0 % 1000 + group.rank) } }
        var times: [Double] = []
        var correct = true
        for _ in 0...runs {
            var buffers = sizes.map(fill)
            try group.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            for i in buffers.indices {
                if algorithm == "mpi" { try group.sumInLibraryOrder(&buffers[i]) } else { try group.sumInRankOrder(&buffers[i]) }
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            let n = group.size
            for buffer in buffers {
                for (i, v) in buffer.enumerated() where v != Float(n * (i % 1000) + n * (n - 1) / 2) { correct = false; break }
            }
        }
        times.removeFirst()  // the first iteration sets up connections
        if algorithm == "rank-order" { correct = try correct && sumsInRankOrder(group) }
        let flags = try group.allGather([correct ? 1 : 0])
        let hosts = try group.allGather(Array(group.host.utf8)).map { String(decoding: $0, as: UTF8.self) }
        guard group.rank == 0 else { return }
        let sorted = times.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let bytes = sizes.reduce(0, +) * MemoryLayout<Float>.size
        let n = Double(group.size)
        let result: [String: Any] = [
            "model": model, "algorithm": algorithm, "ranks": group.size, "hosts": Array(Set(hosts)).sorted(),
            "launcher": group.launch?.launcher ?? "none", "bytes_per_step": bytes, "runs": runs,
            "median_s": median, "min_s": sorted[0],
            "bus_gbit_s": group.size > 1 ? 2 * (n - 1) / n * Double(bytes) * 8 / median / 1e9 : 0,
            "correct_on_every_rank": flags.allSatisfy { $0 == [1] },
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
        if !flags.allSatisfy({ $0 == [1] }) { throw ExitCode(1) }
    }
}
