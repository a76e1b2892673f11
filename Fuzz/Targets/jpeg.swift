// libFuzzer target: JPEG sniffing, marker walk (SOF, APP1 Exif orientation, APP2 ICC) and
// TurboJPEG decode (harness in Fuzz/Shared/image.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzImage(data, size, name: "fuzz.jpg")
    return 0
}
