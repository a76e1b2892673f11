// Shared by the image targets (png, jpeg, tiff, webp): which format a file is does not change
// how it is read.
import Foundation
@testable import Imaging

// By default small enough that a legitimate image decodes in milliseconds under ASan and a
// declared-size bomb is refused by the limit check. That same limit hides bugs where a tiny
// file makes the decoder allocate for its declared size, so GANTRY_FUZZ_MAX_PIXELS=0 selects
// the library's defaults (run with -malloc_limit_mb to catch such allocations).
let imageLimits: DecodeLimits = {
    guard let text = getenv("GANTRY_FUZZ_MAX_PIXELS"), let pixels = Int(String(cString: text)) else {
        return DecodeLimits(maxPixels: 1 << 18, maxSide: 4096)
    }
    return pixels > 0 ? DecodeLimits(maxPixels: pixels) : DecodeLimits()
}()

/// Header read, then a full decode. The copy into `Data` is what the codec takes; it is still a
/// heap block of exactly `size` bytes, so ASan sees reads past the input.
func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int, name: String) {
    let bytes = Data(bytes: data, count: size)
    // readHeader applies no limits, so it is the path that reports a bomb's full declared size.
    _ = try? ImageCodec.readHeader(bytes, path: name)
    _ = try? ImageCodec.decode(bytes, path: name, limits: imageLimits)
}
