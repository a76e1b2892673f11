// libFuzzer target: TIFF sniffing, libtiff directory reading through the in-memory client
// procs, the size and compressed-data checks, strip/tile/plane reading, the RGBA fallback,
// un-premultiplying and orientation (harness in Fuzz/Shared/image.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTIFF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzImage(data, size, name: "fuzz.tif")
    return 0
}
