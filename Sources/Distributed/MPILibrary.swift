#if canImport(Glibc)
import Glibc
#endif

/// Open MPI's C API, loaded with dlopen when gantry is launched under MPI and never otherwise,
/// so the binary, the container image and the README's set-up need no MPI (docs/scaling.md has
/// the measurement behind this choice).
///
/// Open MPI's handles are addresses of global objects (`MPI_COMM_WORLD` is
/// `&ompi_mpi_comm_world`, `MPI_FLOAT` `&ompi_mpi_float`, `MPI_SUM` `&ompi_mpi_op_sum`) and
/// `MPI_IN_PLACE` is `(void *) 1` (its `mpi.h`), so they are looked up like functions. This is
/// Open MPI's ABI (libmpi.so.40, the 3.x/4.x/5.x series); MPICH's differs and is not loaded.
final class MPILibrary: @unchecked Sendable {
    typealias Handle = UnsafeMutableRawPointer
    typealias InitThreadFunction = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32, UnsafeMutablePointer<Int32>) -> Int32
    typealias FinalizeFunction = @convention(c) () -> Int32
    typealias CommRankFunction = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    typealias CommSizeFunction = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    typealias SetErrhandlerFunction = @convention(c) (Handle, Handle) -> Int32
    typealias ErrorStringFunction = @convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32
    typealias AllreduceFunction = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    typealias AlltoallFunction = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    typealias AllgatherFunction = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    typealias BcastFunction = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    typealias BarrierFunction = @convention(c) (Handle) -> Int32
    typealias AbortFunction = @convention(c) (Handle, Int32) -> Int32
    typealias GetProcessorNameFunction = @convention(c) (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32

    let comm: Handle, float: Handle, double: Handle, int64: Handle, byte: Handle, sum: Handle
    let errorsReturn: Handle

    let initThread: InitThreadFunction
    let finalize: FinalizeFunction
    let commRank: CommRankFunction
    let commSize: CommSizeFunction
    let setErrhandler: SetErrhandlerFunction
    let errorString: ErrorStringFunction
    let allreduce: AllreduceFunction
    let alltoall: AlltoallFunction
    let allgather: AllgatherFunction
    let bcast: BcastFunction
    let barrier: BarrierFunction
    let abort: AbortFunction
    let getProcessorName: GetProcessorNameFunction

    /// `MPI_IN_PLACE`.
    static var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }

    /// The names tried, in order: only `GANTRY_LIBMPI` when it is set.
    static func candidates(_ environment: [String: String]) -> [String] {
        environment["GANTRY_LIBMPI"].map { [$0] } ?? ["libmpi.so.40", "libmpi.so"]
    }

    init(environment: [String: String]) throws {
        var handle: UnsafeMutableRawPointer?
        var errors: [String] = []
        for name in Self.candidates(environment) {
            // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols through it.
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
            errors.append(dlerror().map { String(cString: $0) } ?? name)
        }
        guard let library = handle else {
            throw DistributedError(.library, "launched by MPI, but Open MPI's libmpi.so.40 cannot be loaded: install it (Debian/Ubuntu: apt-get install libopenmpi3 openmpi-bin) or set GANTRY_LIBMPI to its path",
                                   cause: errors.joined(separator: "; "))
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let p = dlsym(library, name) else {
                throw DistributedError(.library, "the loaded libmpi has no \(name): gantry needs Open MPI (libmpi.so.40), not another MPI", cause: dlerror().map { String(cString: $0) })
            }
            return p
        }
        func function<F>(_ name: String, _: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: F.self) }
        comm = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        double = try symbol("ompi_mpi_double")
        int64 = try symbol("ompi_mpi_int64_t")
        byte = try symbol("ompi_mpi_byte")
        sum = try symbol("ompi_mpi_op_sum")
        errorsReturn = try symbol("ompi_mpi_errors_return")
        initThread = try function("MPI_Init_thread", InitThreadFunction.self)
        finalize = try function("MPI_Finalize", FinalizeFunction.self)
        commRank = try function("MPI_Comm_rank", CommRankFunction.self)
        commSize = try function("MPI_Comm_size", CommSizeFunction.self)
        setErrhandler = try function("MPI_Comm_set_errhandler", SetErrhandlerFunction.self)
        errorString = try function("MPI_Error_string", ErrorStringFunction.self)
        allreduce = try function("MPI_Allreduce", AllreduceFunction.self)
        alltoall = try function("MPI_Alltoall", AlltoallFunction.self)
        allgather = try function("MPI_Allgather", AllgatherFunction.self)
        bcast = try function("MPI_Bcast", BcastFunction.self)
        barrier = try function("MPI_Barrier", BarrierFunction.self)
        abort = try function("MPI_Abort", AbortFunction.self)
        getProcessorName = try function("MPI_Get_processor_name", GetProcessorNameFunction.self)
    }

    /// Throws for a non-zero MPI return code, with MPI's own words for it.
    func check(_ code: Int32, _ what: String) throws {
        guard code != 0 else { return }
        var buffer = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        _ = errorString(code, &buffer, &length)
        throw DistributedError(.call, "\(what) failed", cause: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
