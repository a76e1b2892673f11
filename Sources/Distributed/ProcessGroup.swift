import Foundation

/// The processes of one training job and the collectives they share: a lone process (rank 0 of
/// 1, no MPI at all) or the ranks of an MPI job (`ProcessGroup.start`).
///
/// Every collective is called by every rank in the same order, from the thread that started the
/// group (MPI_THREAD_FUNNELED).
public final class ProcessGroup: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// This rank's host name as MPI reports it.
    public let host: String
    /// How the job was launched; nil for a lone process.
    public let launch: MPILaunch?
    private let mpi: MPILibrary?

    /// A lone process: every collective returns its input.
    public static let single = ProcessGroup()

    private init() {
        (rank, size, host, launch, mpi) = (0, 1, ProcessInfo.processInfo.hostName, nil, nil)
    }

    private init(_ mpi: MPILibrary, _ launch: MPILaunch, rank: Int, size: Int, host: String) {
        (self.mpi, self.launch, self.rank, self.size, self.host) = (mpi, launch, rank, size, host)
    }

    /// The group this process belongs to: `.single` unless the environment says MPI launched it,
    /// in which case libmpi is loaded and initialised (later calls return their errors rather
    /// than end the job; a failing MPI_Init itself still ends it, as MPI defines) and the rank
    /// and size it reports are checked against the launcher's.
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
        guard let launch = MPILaunch.detect(environment) else { return .single }
        let mpi = try MPILibrary(environment: environment)
        var provided: Int32 = 0
        // MPI_THREAD_FUNNELED = 1: only this thread calls MPI; oneDNN's threads never do.
        try mpi.check(mpi.initThread(nil, nil, 1, &provided), "MPI_Init_thread")
        guard provided >= 1 else {
            throw DistributedError(.library, "this libmpi gives only MPI_THREAD_SINGLE; gantry needs MPI_THREAD_FUNNELED (Open MPI gives it)")
        }
        try mpi.check(mpi.setErrhandler(mpi.comm, mpi.errorsReturn), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try mpi.check(mpi.commRank(mpi.comm, &rank), "MPI_Comm_rank")
        try mpi.check(mpi.commSize(mpi.comm, &size), "MPI_Comm_size")
        var name = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        _ = mpi.getProcessorName(&name, &length)
        if launch.size > 0, Int(size) != launch.size || Int(rank) != launch.rank {
            throw DistributedError(.mismatch, "\(launch.launcher) announced rank \(launch.rank) of \(launch.size) but MPI says \(rank) of \(size): is libmpi the Open MPI that launched the job?")
        }
        return ProcessGroup(mpi, launch, rank: Int(rank), size: Int(size), host: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Sums `values` element-wise over the ranks, in rank order for every element (rank 0's +
    /// rank 1's + …), whatever algorithm the MPI library picks: each rank receives one slice of
    /// every rank's buffer (MPI_Alltoall), adds them up in rank order, and the sums are shared
    /// (MPI_Allgather). The same bytes cross the network as a ring all-reduce, 2(N−1)/N × the
    /// buffer per rank.
    public func sumInRankOrder(_ values: inout [Float]) throws {
        guard let mpi else { return }
        try sumInRankOrder(&values, mpi, mpi.float)
    }

    /// `sumInRankOrder` for doubles (BatchNorm's per-channel sums, losses).
    public func sumInRankOrder(_ values: inout [Double]) throws {
        guard let mpi else { return }
        try sumInRankOrder(&values, mpi, mpi.double)
    }

    private func sumInRankOrder<T: FloatingPoint>(_ values: inout [T], _ mpi: MPILibrary, _ type: MPILibrary.Handle) throws {
        let n = values.count
        let chunk = (n + size - 1) / size
        guard chunk <= Int(Int32.max) else { throw DistributedError(.call, "a buffer of \(n) values is too large for one all-reduce") }
        guard n > 0 else { return }
        let padding = chunk * size - n
        values.append(contentsOf: repeatElement(T.zero, count: padding))
        defer { values.removeLast(padding) }
        var received = [T](repeating: .zero, count: chunk * size)
        try values.withUnsafeBytes { send in
            try received.withUnsafeMutableBytes { receive in
                try mpi.check(mpi.alltoall(send.baseAddress, Int32(chunk), type, receive.baseAddress, Int32(chunk), type, mpi.comm), "MPI_Alltoall")
            }
        }
        // received holds every rank's copy of this rank's slice, in rank order: add them so.
        received.withUnsafeMutableBufferPointer { p in
            for source in 1..<size {
                let base = source * chunk
                for i in 0..<chunk { p[i] += p[base + i] }
            }
        }
        try received.withUnsafeBytes { send in
            try values.withUnsafeMutableBytes { receive in
                try mpi.check(mpi.allgather(send.baseAddress, Int32(chunk), type, receive.baseAddress, Int32(chunk), type, mpi.comm), "MPI_Allgather")
            }
        }
    }

    /// MPI_Allreduce's own sum, in whatever order the library's algorithm adds: only to measure
    /// what the rank-order sum costs next to it (`gantry bench-allreduce --algorithm mpi`).
    public func sumInLibraryOrder(_ values: inout [Float]) throws {
        guard let mpi, !values.isEmpty else { return }
        guard values.count <= Int(Int32.max) else { throw DistributedError(.call, "a buffer of \(values.count) values is too large for one all-reduce") }
        let count = Int32(values.count)
        try values.withUnsafeMutableBytes { buffer in
            try mpi.check(mpi.allreduce(MPILibrary.inPlace, buffer.baseAddress, count, mpi.float, mpi.sum, mpi.comm), "MPI_Allreduce")
        }
    }

    /// Copies `root`'s `values` to every rank (parameters and buffers at start). Every rank
    /// passes an array of the same length.
    public func broadcast(_ values: inout [Float], from root: Int = 0) throws {
        guard let mpi else { return }
        guard values.count <= Int(Int32.max) else { throw DistributedError(.call, "a buffer of \(values.count) values is too large for one broadcast") }
        let count = Int32(values.count)
        try values.withUnsafeMutableBytes { buffer in
            try mpi.check(mpi.bcast(buffer.baseAddress, count, mpi.float, Int32(root), mpi.comm), "MPI_Bcast")
        }
    }

    /// Every rank's `bytes`, in rank order (options, file lists and checksums to compare).
    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard let mpi else { return [bytes] }
        let length = [Int64(bytes.count)]
        var lengths = [Int64](repeating: 0, count: size)
        try length.withUnsafeBytes { send in
            try lengths.withUnsafeMutableBytes { receive in
                try mpi.check(mpi.allgather(send.baseAddress, 1, mpi.int64, receive.baseAddress, 1, mpi.int64, mpi.comm), "MPI_Allgather")
            }
        }
        let longest = Int(lengths.max() ?? 0)
        guard longest <= Int(Int32.max) else { throw DistributedError(.call, "\(longest) bytes are too many to gather") }
        let send = bytes + [UInt8](repeating: 0, count: longest - bytes.count)
        var receive = [UInt8](repeating: 0, count: longest * size)
        if longest > 0 {
            try send.withUnsafeBytes { s in
                try receive.withUnsafeMutableBytes { r in
                    try mpi.check(mpi.allgather(s.baseAddress, Int32(longest), mpi.byte, r.baseAddress, Int32(longest), mpi.byte, mpi.comm), "MPI_Allgather")
                }
            }
        }
        return (0..<size).map { Array(receive[($0 * longest)..<($0 * longest + Int(lengths[$0]))]) }
    }

    /// Waits until every rank is here.
    public func barrier() throws {
        guard let mpi else { return }
        try mpi.check(mpi.barrier(mpi.comm), "MPI_Barrier")
    }

    /// Ends the whole job now (Open MPI signals every rank); for a lone process, exits.
    public func abort(code: Int32) -> Never {
        if let mpi { _ = mpi.abort(mpi.comm, code) }
        exit(code)
    }

    /// Leaves MPI; the last call of a rank that ends normally.
    public func finish() {
        guard let mpi else { return }
        _ = mpi.finalize()
    }
}
