// libFuzzer target: PNG sniffing, chunk walk and libpng decode.
import Foundation
@testable import Imaging

// By default small enough that a legitimate image decodes in milliseconds under ASan and a
// declared-size bomb is refused by the limit check. That same limit hides bugs where a tiny
// file makes the decoder allocate for its declared size, so GANTRY_FUZZ_MAX_PIXELS=0 selects
// the library's defaults (run with -malloc_limit_mb to catch such allocations).
private let limits: DecodeLimits = {
    guard let text = getenv("GANTRY_FUZZ_MAX_PIXELS"), let pixels = Int(String(cString: text)) else {
        return DecodeLimits(maxPixels: 1 << 18, maxSide: 4096)
    }
    return pixels > 0 ? DecodeLimits(maxPixels: pixels) : DecodeLimits()
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // A copy is unavoidable: the codec takes Data. It is still a heap block of exactly `size` bytes.
    let bytes = Data(bytes: data, count: size)
    // readHeader applies no limits, so it is the path that reports a bomb's full declared size.
    _ = try? ImageCodec.readHeader(bytes, path: "fuzz.png")
    _ = try? ImageCodec.decode(bytes, path: "fuzz.png", limits: limits)
    return 0
}
