// libFuzzer target: WebP sniffing, WebPGetFeatures, the demuxer (frame count, ICCP, EXIF
// orientation) and libwebp decode (harness in Fuzz/Shared/image.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzImage(data, size, name: "fuzz.webp")
    return 0
}
