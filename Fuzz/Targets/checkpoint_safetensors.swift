// libFuzzer target: safetensors files (u64 header length, JSON header, data section).
@testable import Checkpoints

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    // Checkpoint.load only gets here when byte 8 is '{'; skipping that check lets the fuzzer
    // also try header lengths that point elsewhere.
    if var parsed = try? SafetensorsLoader.load(raw) {
        _ = PrefixNormalization.strip(&parsed.stateDict)
    }
    return 0
}
