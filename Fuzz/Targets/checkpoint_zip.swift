// libFuzzer target: torch.save zip archives (torch >= 1.6).
@testable import Checkpoints

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointZip(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // The fuzzer's own buffer, not a copy: ASan then flags a read even one byte past the input.
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    // The loader is called directly, not through Checkpoint.load, so a mutation that breaks the
    // "PK" signature still exercises the zip reader instead of stopping at format sniffing.
    if var parsed = try? TorchZipLoader.load(raw, entry: nil) {
        // Checkpoint.load runs this on every result; keys come straight from the file.
        _ = PrefixNormalization.strip(&parsed.stateDict)
    }
    return 0
}
