// libFuzzer target: the restricted unpickler on its own, plus the state_dict selection that
// walks whatever it built.
@testable import Checkpoints

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUnpickler(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    var reader = ByteReader(raw, what: "fuzz input")
    var unpickler = Unpickler()
    // Legacy checkpoints are several pickles back to back read by one reader, so keep loading:
    // that also covers a second load starting in whatever state the first one left.
    // Every successful load consumes at least its STOP byte, so this loop is bounded by the size.
    while !reader.isAtEnd {
        guard let root = try? unpickler.load(&reader) else { break }
        _ = try? StateDictSelection.select(root, arena: unpickler.arena, entry: nil)
    }
    return 0
}
