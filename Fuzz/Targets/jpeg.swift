// libFuzzer target: JPEG sniffing, marker walk (SOF, APP1 Exif orientation, APP2 ICC) and
// TurboJPEG decode.
import Foundation
@testable import Imaging

// Small enough that a legitimate image decodes in milliseconds under ASan, and that a
// declared-size bomb is refused by the limit check, which is the behaviour under test.
private let limits = DecodeLimits(maxPixels: 1 << 18, maxSide: 4096)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    _ = try? ImageCodec.readHeader(bytes, path: "fuzz.jpg")
    _ = try? ImageCodec.decode(bytes, path: "fuzz.jpg", limits: limits)
    return 0
}
