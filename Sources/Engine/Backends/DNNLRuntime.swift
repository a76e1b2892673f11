import CDNNL
import Foundation

/// Process-wide oneDNN set-up: the ISA cap (before any primitive exists), the engine and stream.
enum DNNLRuntime {
    /// The highest ISA oneDNN may use. AMX faults (SIGILL) on the machines Gantry runs on, so the
    /// default stops just below it; `GANTRY_MAX_CPU_ISA` may lower it further (e.g. `avx2`).
    static let isaCap: String = {
        let requested = ProcessInfo.processInfo.environment["GANTRY_MAX_CPU_ISA"]?.lowercased()
        let table: [String: dnnl_cpu_isa_t] = [
            "sse41": dnnl_cpu_isa_sse41, "avx": dnnl_cpu_isa_avx, "avx2": dnnl_cpu_isa_avx2,
            "avx512_core": dnnl_cpu_isa_avx512_core,
            "avx512_core_vnni": dnnl_cpu_isa_avx512_core_vnni,
            "avx512_core_bf16": dnnl_cpu_isa_avx512_core_bf16,
        ]
        let name = requested.flatMap { table[$0] != nil ? $0 : nil } ?? "avx512_core_bf16"
        _ = gantry_set_max_isa(table[name]!)
        return name
    }()

    /// The instruction set oneDNN's kernels actually use here: what the CPU offers, lowered by the
    /// cap. Winograd exists in oneDNN only from `avx512_core` on.
    static var effectiveISA: String {
        _ = isaCap
        let isa = dnnl_get_effective_cpu_isa()
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"), (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"),
            (dnnl_cpu_isa_avx512_core, "avx512_core"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"),
            (dnnl_cpu_isa_sse41, "sse41"),
        ]
        // The enum values are bit masks: a richer ISA contains the bits of the poorer ones.
        return names.first { isa.rawValue & $0.0.rawValue == $0.0.rawValue }?.1 ?? "isa 0x\(String(isa.rawValue, radix: 16))"
    }

    /// OpenMP's thread count before any backend set one (OMP_NUM_THREADS, else one per core):
    /// what a backend without `threads` uses. Read once, at the first backend's creation, before
    /// any operation has set a count on any thread.
    static let defaultThreads = Int(max(1, gantry_get_max_threads()))

    nonisolated(unsafe) static let shared: (engine: dnnl_engine_t, stream: dnnl_stream_t)? = {
        _ = isaCap
        var engine: dnnl_engine_t?
        guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, let engine else { return nil }
        var stream: dnnl_stream_t?
        guard dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success,
              let stream else { return nil }
        return (engine, stream)
    }()

    /// Row-major `C = A·op(B) + β·C` (`A`: m×k, `op(B)`: k×n) by oneDNN's sgemm: every GEMM of
    /// Gantry's own algorithms goes through here, so the ISA cap is in force before the first
    /// one (oneDNN fixes its ISA at its first use). Inside `parallelFor` it runs single-threaded.
    static func sgemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> dnnl_status_t {
        _ = isaCap
        return dnnl_sgemm(CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")), Int64(m), Int64(n), Int64(k),
                          1, a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
    }

    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        guard status == dnnl_success else {
            throw EngineError(.library, "oneDNN failed to \(what()) (status \(status.rawValue))")
        }
    }
}
