// libFuzzer target: PNG sniffing, chunk walk and libpng decode (harness in Fuzz/Shared/image.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzImage(data, size, name: "fuzz.png")
    return 0
}
