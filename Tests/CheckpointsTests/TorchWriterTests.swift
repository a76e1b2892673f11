@testable import Checkpoints
import Foundation
import Testing
import TestSupport

/// `TorchWriter` writes what `torch.save(state_dict)` writes; our reader (which follows torch's
/// format) takes it back exactly. `tools/fixtures/check_torch_writer.py` loads the same kind of
/// file into the reference networks with torch itself (`torch.load(weights_only=True)` +
/// `load_state_dict(strict=True)`), run by hand where torch is installed.
struct TorchWriterTests {
    @Test func roundTripsEveryTensorExactly() throws {
        let dir = try TemporaryDirectory()
        var sd = StateDict()
        sd["model.0.weight"] = CheckpointTensor(shape: [4, 3, 3, 3], values: (0..<108).map { Float($0) * 0.25 - 7 })
        sd["model.0.bias"] = CheckpointTensor(shape: [4], values: [1, -2, .pi, 1e-30])
        sd["model.1.running_mean"] = CheckpointTensor(shape: [4], values: [0, 0.5, 1, 2])
        sd["model.1.num_batches_tracked"] = CheckpointTensor(shape: [], values: [12])
        sd["ünïcode.key"] = CheckpointTensor(shape: [1, 1], values: [-0.0])
        let url = dir.url.appendingPathComponent("latest_net_G.pth")
        try TorchWriter.write(sd, to: url)
        let back = try Checkpoint.load(contentsOf: url)
        #expect(back.format == .pytorchZip)
        #expect(back.stateDict.keys == sd.keys)
        for key in sd.keys {
            let (a, b) = (sd[key]!, back.stateDict[key]!)
            #expect(a.shape == b.shape, "\(key)")
            #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern), "\(key)")
        }
        #expect(back.stateDict["model.1.num_batches_tracked"]!.dtype == .int64)
    }

    @Test func zipEntriesAreAlignedAndChecksummed() throws {
        #expect(TorchWriter.crc32(Array("123456789".utf8)) == 0xCBF4_3926)  // the CRC-32 check value
        let data = try TorchWriter.zip([("archive/a", [1, 2, 3]), ("archive/data/0", Array(repeating: 7, count: 100))])
        // Each payload starts on a 64-byte boundary, as PyTorch writes them for mmap.
        let bytes = [UInt8](data)
        var offset = 0, starts: [Int] = []
        while offset + 30 <= bytes.count, bytes[offset..<offset + 4] == [0x50, 0x4B, 0x03, 0x04] {
            let nameLength = Int(bytes[offset + 26]) | Int(bytes[offset + 27]) << 8
            let extraLength = Int(bytes[offset + 28]) | Int(bytes[offset + 29]) << 8
            let size = Int(bytes[offset + 22]) | Int(bytes[offset + 23]) << 8
            let start = offset + 30 + nameLength + extraLength
            starts.append(start)
            offset = start + size
        }
        #expect(starts.count == 2 && starts.allSatisfy { $0 % 64 == 0 })
    }
}
