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

    nonisolated(unsafe) static let shared: (engine: dnnl_engine_t, stream: dnnl_stream_t)? = {
        _ = isaCap
        var engine: dnnl_engine_t?
        guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, let engine else { return nil }
        var stream: dnnl_stream_t?
        guard dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success,
              let stream else { return nil }
        return (engine, stream)
    }()

    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        guard status == dnnl_success else {
            throw EngineError(.library, "oneDNN failed to \(what()) (status \(status.rawValue))")
        }
    }
}
