// libFuzzer target: PNG sniffing, chunk walk and libpng decode.
import Foundation
@testable import Imaging

// Small enough that a legitimate image decodes in milliseconds under ASan, and that a
// declared-size bomb is refused by the limit check, which is the behaviour under test.
private let limits = DecodeLimits(maxPixels: 1 << 18, maxSide: 4096)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // A copy is unavoidable: the codec takes Data. It is still a heap block of exactly `size` bytes.
    let bytes = Data(bytes: data, count: size)
    // readHeader applies no limits, so it is the path that reports a bomb's full declared size.
    _ = try? ImageCodec.readHeader(bytes, path: "fuzz.png")
    _ = try? ImageCodec.decode(bytes, path: "fuzz.png", limits: limits)
    return 0
}
