import Checkpoints
import Foundation
import Testing

struct SafetensorsTests {
    /// A safetensors file with the given header JSON and data bytes.
    static func file(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        return le64(headerLength ?? UInt64(json.count)) + json + data
    }

    @Test func writerRoundTrips() throws {
        var sd = StateDict()
        sd["b.weight"] = CheckpointTensor(shape: [2, 3], values: [1, -2, 3.5, .infinity, -0, Float(bitPattern: 1)])
        sd["a.bias"] = CheckpointTensor(shape: [], dtype: .int64, values: [7])
        sd["quote\"d\\name\n"] = CheckpointTensor(shape: [0, 4], values: [])
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("out.safetensors")
        try SafetensorsWriter.write(sd, to: url, metadata: ["format": "pt"])
        let back = try Checkpoint.load(contentsOf: url)
        #expect(back.format == .safetensors)
        #expect(back.stateDict.keys == sd.keys)
        for (key, tensor) in sd {
            let got = try #require(back.stateDict[key])
            #expect(got.shape == tensor.shape && got.dtype == .float32)
            #expect(got.values.map(\.bitPattern) == tensor.values.map(\.bitPattern))
        }
        // The header is padded so the data section is 8-byte aligned.
        let bytes = try Data(contentsOf: url)
        #expect(bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) } % 8 == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
        #expect(leftovers == ["out.safetensors"])
    }

    /// A header of 640 bytes makes the file start 0x80 0x02, like a pickle (found when a training
    /// state file's metadata happened to be that long): it must still load as safetensors.
    @Test func headerLengthThatLooksLikeAPickleProtocol() throws {
        let header = #"{"__metadata__":{"pad":"PAD"}}"#
        let padded = header.replacingOccurrences(of: "PAD", with: String(repeating: "x", count: 640 - header.utf8.count + 3))
        #expect(padded.utf8.count == 640)
        let bytes = Self.file(padded)
        #expect(bytes[0] == 0x80 && bytes[1] == 0x02)
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("pickle-like.safetensors")
        try Data(bytes).write(to: url)
        let back = try Checkpoint.load(contentsOf: url)
        #expect(back.format == .safetensors && back.stateDict.keys.isEmpty)
    }

    @Test func writerFailureIsACheckpointError() throws {
        let url = URL(fileURLWithPath: "/nonexistent-dir-\(UUID().uuidString)/x.safetensors")
        #expect(throws: CheckpointError.self) { try SafetensorsWriter.write(StateDict(), to: url) }
    }

    @Test func emptyStateDictWritesAValidFile() throws {
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("empty.safetensors")
        try SafetensorsWriter.write(StateDict(), to: url)
        #expect(try Checkpoint.load(contentsOf: url).stateDict.isEmpty)
    }

    @Test func offsetsOutOfRange() throws {
        let bytes = Self.file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))
        let error = try #require(checkpointError { try load(bytes, name: "bad.safetensors") })
        #expect(error.code == .corrupt && error.message.contains("'w'") && error.message.contains("outside"), "\(error)")
        let reversed = Self.file(#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(checkpointError { try load(reversed) }?.code == .corrupt)
        let negative = Self.file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(checkpointError { try load(negative) }?.code == .corrupt)
    }

    @Test func headerLengthBeyondTheFile() throws {
        let bytes = Self.file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], headerLength: 1 << 40)
        let error = try #require(checkpointError { try load(bytes) })
        #expect(error.code == .truncated && error.message.contains("header length"), "\(error)")
    }

    @Test func shapeAndSizeMismatch() throws {
        let bytes = Self.file(#"{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        let error = try #require(checkpointError { try load(bytes) })
        #expect(error.code == .corrupt && error.message.contains("[2, 3]"), "\(error)")
        let overflow = Self.file(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#)
        #expect(checkpointError { try load(overflow) }?.code == .corrupt)
    }

    @Test func invalidJSON() throws {
        for header in [#"{"w": {"dtype": "F32", "#, #"{"w": 3}"#, "{}[]", #"{"w":{"dtype":"Q9","shape":[],"data_offsets":[0,4]}}"#] {
            let error = try #require(checkpointError { try load(Self.file(header, data: [0, 0, 0, 0])) })
            #expect(error.code == .corrupt, "\(header): \(error)")
        }
        let f8 = Self.file(#"{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#, data: [0])
        #expect(checkpointError { try load(f8) }?.code == .unsupported)
    }

    @Test func metadataIsIgnoredAndOrderFollowsOffsets() throws {
        let header = #"{"__metadata__":{"format":"pt"},"z":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#
        let checkpoint = try load(Self.file(header, data: [0x80, 0x3F, 3, 250]))
        #expect(checkpoint.stateDict.keys == ["z", "a"])
        #expect(checkpoint.stateDict["z"]?.values == [1])
        #expect(checkpoint.stateDict["a"]?.values == [3, 250])
        #expect(checkpoint.notes == ["converted 1 bfloat16 tensor to float32", "converted 1 uint8 tensor to float32"])
    }
}
