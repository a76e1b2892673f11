// libFuzzer target: legacy torch.save pickle streams (torch < 1.6).
@testable import Checkpoints

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointLegacy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // The fuzzer's own buffer, not a copy: ASan then flags a read even one byte past the input.
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    // Called directly rather than through Checkpoint.load so inputs whose first byte is no longer
    // PROTO still reach the legacy reader.
    if var parsed = try? TorchLegacyLoader.load(raw, entry: nil) {
        _ = PrefixNormalization.strip(&parsed.stateDict)
    }
    return 0
}
