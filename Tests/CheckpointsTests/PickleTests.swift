import Checkpoints
import Foundation
import Testing

/// Hand-crafted pickles for opcodes and shapes of input that torch does not write today.
struct PickleTests {
    /// A torch zip archive around `pickle`, with storage `0` holding `floats`.
    static func zip(_ pickle: [UInt8], floats: [Float] = [1, 2, 3, 4, 5, 6]) -> [UInt8] {
        storedZip([("arch/data.pkl", pickle), ("arch/data/0", floats.flatMap { le32($0.bitPattern) })])
    }

    /// Pushes `_rebuild_tensor_v2(storage '0', offset, size, stride, False, OrderedDict())`.
    static func tensor(_ p: inout PickleBytes, offset: Int = 0, size: [Int], stride: [Int], storageType: String = "FloatStorage") {
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.mark(); p.unicode("storage"); p.global("torch", storageType); p.unicode("0"); p.unicode("cpu"); p.int(6); p.tuple()
        p.op(0x51)
        p.int(offset)
        p.mark(); for s in size { p.int(s) }; p.tuple()
        p.mark(); for s in stride { p.int(s) }; p.tuple()
        p.op(0x89)
        p.global("collections", "OrderedDict"); p.op(0x29); p.reduce()
        p.tuple()
        p.reduce()
    }

    @Test func python2ByteStringKeys() throws {
        // OrderedDict([['conv.weight', t]]) with SHORT_BINSTRING / BINSTRING keys, as Python 2 wrote.
        var p = PickleBytes()
        p.global("collections", "OrderedDict")
        p.op(0x5D); p.mark()
        p.op(0x5D); p.mark(); p.shortBinString("conv.weight"); Self.tensor(&p, size: [2, 3], stride: [3, 1]); p.op(0x65)
        p.op(0x5D); p.mark(); p.op(0x54, le32(9) + Array("conv.bias".utf8)); Self.tensor(&p, offset: 4, size: [2], stride: [1]); p.op(0x65)
        p.op(0x65)
        p.op(0x85); p.reduce(); p.stop()
        let checkpoint = try load(Self.zip(p.bytes))
        #expect(checkpoint.stateDict.keys == ["conv.weight", "conv.bias"])
        #expect(checkpoint.stateDict["conv.weight"]?.values == [1, 2, 3, 4, 5, 6])
        #expect(checkpoint.stateDict["conv.bias"]?.values == [5, 6])
    }

    @Test func protocolZeroOpcodesAndMemo() throws {
        // Text opcodes: INT, LONG, FLOAT, PUT/GET, UNICODE, DICT built from a mark.
        var p = PickleBytes(protocol: nil)
        p.mark()
        p.op(0x56, Array("w\\u00e9\n".utf8))          // UNICODE with a raw-unicode escape
        p.op(0x70, Array("5\n".utf8))                  // PUT 5
        Self.tensor(&p, size: [3], stride: [2])
        p.op(0x56, Array("n\n".utf8))
        p.op(0x49, Array("12\n".utf8))                 // INT (ignored value)
        p.op(0x64)                                     // DICT → {'wé': t, 'n': 12}
        p.op(0x30)                                     // POP it again ...
        p.op(0x7D)
        p.op(0x67, Array("5\n".utf8))                  // GET 5 → 'wé'
        Self.tensor(&p, offset: 1, size: [2, 2], stride: [1, 2])
        p.op(0x73); p.stop()
        let checkpoint = try load(Self.zip(p.bytes))
        #expect(checkpoint.stateDict.keys == ["wé"])
        #expect(checkpoint.stateDict["wé"]?.values == [2, 4, 3, 5])
    }

    @Test func mixedDictKeepsOnlyTensors() throws {
        var p = PickleBytes()
        p.op(0x7D); p.mark()
        p.unicode("w"); Self.tensor(&p, size: [6], stride: [1])
        p.unicode("epoch"); p.int(3)
        p.unicode("lr"); p.op(0x47, [0x3F, 0x1A, 0x36, 0xE2, 0xEB, 0x1C, 0x43, 0x2D])
        p.op(0x75); p.stop()
        let checkpoint = try load(Self.zip(p.bytes))
        #expect(checkpoint.stateDict.keys == ["w"])
        #expect(checkpoint.notes == ["ignored 2 non-tensor entries: 'epoch', 'lr'"])
    }

    @Test func storageBoundsAreChecked() throws {
        // Offset 3 + 4 elements of stride 1 needs 7 floats; the record holds 6.
        var p = PickleBytes()
        p.op(0x7D); p.unicode("w"); Self.tensor(&p, offset: 3, size: [4], stride: [1]); p.op(0x73); p.stop()
        let error = try #require(checkpointError { try load(Self.zip(p.bytes)) })
        #expect(error.code == .corrupt && error.message.contains("'w'"), "\(error)")
        // The record is shorter than the storage size in the persistent id.
        var q = PickleBytes()
        q.op(0x7D); q.unicode("w"); Self.tensor(&q, size: [6], stride: [1]); q.op(0x73); q.stop()
        let short = try #require(checkpointError { try load(Self.zip(q.bytes, floats: [1, 2])) })
        #expect(short.code == .corrupt && short.message.contains("arch/data/0"), "\(short)")
        // A huge stride on a size-1 dimension addresses nothing out of bounds.
        var r = PickleBytes()
        r.op(0x7D); r.unicode("w"); Self.tensor(&r, offset: 5, size: [1, 1], stride: [Int(Int64.max), 1]); r.op(0x73); r.stop()
        #expect(try load(Self.zip(r.bytes)).stateDict["w"]?.values == [6])
    }

    @Test func deepNestingDoesNotOverflowTheStack() throws {
        // 500k nested tuples, then 200k nested lists: values live in a flat arena.
        var p = PickleBytes()
        p.op(0x29)
        p.bytes += [UInt8](repeating: 0x85, count: 500_000)
        p.op(0x30)
        p.bytes += [UInt8](repeating: 0x5D, count: 200_000)
        p.bytes += [UInt8](repeating: 0x61, count: 199_999)
        p.stop()
        let error = try #require(checkpointError { try load(p.bytes) })
        #expect(error.code == .unknownFormat, "\(error)")   // a pickle, but not a torch.save file
        let zipped = try #require(checkpointError { try load(Self.zip(p.bytes)) })
        #expect(zipped.code == .notAStateDict, "\(zipped)")
    }

    @Test func malformedPicklesAreCorrupt() throws {
        let cases: [[UInt8]] = [
            [0x80, 0x02, 0x2E],                         // STOP on an empty stack
            [0x80, 0x02, 0x68, 0x07, 0x2E],             // BINGET of a missing memo entry
            [0x80, 0x02, 0x65, 0x2E],                   // APPENDS without a mark
            [0x80, 0x02, 0x4B, 0x01, 0x4B, 0x02, 0x73, 0x2E],   // SETITEM on an int
            [0x80, 0x02, 0xFF, 0x2E],                   // unknown opcode
            [0x80, 0x02, 0x7D, 0x5D, 0x4B, 0x01, 0x73, 0x2E],   // list as a dict key
        ]
        for bytes in cases {
            let error = try #require(checkpointError { try load(Self.zip(bytes)) })
            #expect(error.code == .corrupt, "\(bytes): \(error)")
        }
        // Lengths larger than the input are errors, not allocations: damage inside a
        // complete archive, truncation in a legacy stream.
        for bytes: [UInt8] in [[0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F], [0x80, 0x04, 0x8D] + le64(1 << 62), [0x80, 0x02, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F]] {
            let inZip = checkpointError { try load(Self.zip(bytes)) }
            #expect(inZip?.code == .corrupt && inZip?.message.contains("data.pkl ends in the middle") == true)
            #expect(checkpointError { try load(legacyHeader() + bytes) }?.code == .truncated)
        }
    }

    @Test func onlyStoragePersistentIdsAndKnownCallsAreAccepted() throws {
        var p = PickleBytes()
        p.mark(); p.unicode("module"); p.global("models", "Net"); p.tuple(); p.stop()
        #expect(checkpointError { try load(Self.zip(p.bytes)) }?.code == .refusedGlobal)
        var q = PickleBytes()
        q.mark(); q.unicode("module"); q.op(0x4E); q.tuple(); q.op(0x51); q.stop()
        #expect(checkpointError { try load(Self.zip(q.bytes)) }?.code == .notAStateDict)
        var r = PickleBytes()
        r.global("torch", "FloatStorage"); r.op(0x29); r.reduce(); r.stop()
        #expect(checkpointError { try load(Self.zip(r.bytes)) }?.code == .unsupported)
        var s = PickleBytes()
        s.global("_codecs", "encode"); s.mark(); s.unicode("abc"); s.unicode("rot13"); s.tuple(); s.reduce(); s.stop()
        #expect(checkpointError { try load(Self.zip(s.bytes)) }?.code == .unsupported)
    }

    @Test func negatedViewBitIsApplied() throws {
        var p = PickleBytes()
        p.op(0x7D); p.unicode("w")
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.mark(); p.unicode("storage"); p.global("torch", "FloatStorage"); p.unicode("0"); p.unicode("cpu"); p.int(6); p.tuple()
        p.op(0x51); p.int(0); p.int(2); p.op(0x85); p.int(1); p.op(0x85); p.op(0x89)
        p.global("collections", "OrderedDict"); p.op(0x29); p.reduce()
        p.op(0x7D); p.unicode("neg"); p.op(0x88); p.op(0x73)
        p.tuple(); p.reduce(); p.op(0x73); p.stop()
        #expect(try load(Self.zip(p.bytes)).stateDict["w"]?.values == [-1, -2])
    }
}
