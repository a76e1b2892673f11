import Checkpoints
import Foundation
import Testing

/// Fixtures written by `make_checkpoint_fixtures.py` with real torch.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    struct Expected: Decodable {
        let pwnedMarker: String
        let files: [String: File]
    }

    struct File: Decodable {
        let format: String
        let keys: [String]
        let tensors: [String: Tensor]
        /// Substrings that must each appear in some note.
        let notes: [String]
    }

    struct Tensor: Decodable {
        let shape: [Int]
        let dtype: String
        /// float32 little-endian bytes of torch's `tensor.float()`, in hex.
        let f32hex: String

        var bitPatterns: [UInt32] {
            let hex = Array(f32hex.utf8)
            var result: [UInt32] = []
            var i = 0
            while i + 8 <= hex.count {
                var bytes: [UInt32] = []
                for j in stride(from: i, to: i + 8, by: 2) {
                    bytes.append(UInt32(String(decoding: hex[j..<(j + 2)], as: UTF8.self), radix: 16)!)
                }
                result.append(bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24)
                i += 8
            }
            return result
        }
    }

    static let expected: Expected = {
        let data = try! Data(contentsOf: url("expected.json"))
        return try! JSONDecoder().decode(Expected.self, from: data)
    }()
}

/// A scratch directory removed when the value is released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ bytes: [UInt8], named name: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
}

/// Runs `body` and returns the CheckpointError it throws; records an issue if it succeeds.
func checkpointError(_ body: () throws -> Checkpoint, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
    do {
        let checkpoint = try body()
        Issue.record("loaded \(checkpoint.stateDict.count) tensors; expected an error", sourceLocation: sourceLocation)
        return nil
    } catch let error as CheckpointError {
        return error
    } catch {
        Issue.record("threw \(type(of: error)) instead of CheckpointError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Loads bytes from memory, as a file named `name` would be.
func load(_ bytes: [UInt8], name: String = "test.pt", entry: String? = nil) throws -> Checkpoint {
    try Checkpoint.load(data: Data(bytes), path: name, entry: entry)
}

/// Deterministic random numbers for fuzzing (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds pickle byte streams by hand.
struct PickleBytes {
    var bytes: [UInt8] = []

    init(protocol version: UInt8? = 2) {
        if let version { bytes = [0x80, version] }
    }

    mutating func op(_ code: UInt8, _ payload: [UInt8] = []) { bytes += [code] + payload }

    mutating func global(_ module: String, _ name: String) { op(0x63, Array("\(module)\n\(name)\n".utf8)) }

    mutating func unicode(_ s: String) {
        let utf8 = Array(s.utf8)
        op(0x58, le32(UInt32(utf8.count)) + utf8)
    }

    mutating func shortBinString(_ s: String) {
        let raw = Array(s.utf8)
        op(0x55, [UInt8(raw.count)] + raw)
    }

    mutating func int(_ i: Int) {
        if (0..<256).contains(i) { op(0x4B, [UInt8(i)]) } else { op(0x8A, [8] + le64(UInt64(bitPattern: Int64(i)))) }
    }

    mutating func mark() { op(0x28) }
    mutating func tuple() { op(0x74) }
    mutating func reduce() { op(0x52) }
    mutating func stop() { op(0x2E) }
}

func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }

/// Writes a stored (uncompressed) zip archive; CRCs are left zero since the reader ignores them.
func storedZip(_ entries: [(String, [UInt8])]) -> [UInt8] {
    var out: [UInt8] = []
    var central: [UInt8] = []
    for (name, data) in entries {
        let nameBytes = Array(name.utf8)
        let offset = UInt32(out.count)
        out += le32(0x0403_4B50) + le16(20) + le16(0) + le16(0) + le32(0) + le32(0)
        out += le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(UInt16(nameBytes.count)) + le16(0)
        out += nameBytes + data
        central += le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(0) + le32(0) + le32(0)
        central += le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(UInt16(nameBytes.count))
        central += le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes
    }
    let cdOffset = UInt32(out.count)
    out += central
    out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(UInt16(entries.count)) + le16(UInt16(entries.count))
    out += le32(UInt32(central.count)) + le32(cdOffset) + le16(0)
    return out
}

/// The legacy header pickles torch writes: magic number, protocol 1001, sys_info.
func legacyHeader() -> [UInt8] {
    var p = PickleBytes()
    p.op(0x8A, [10, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19])
    p.stop()
    var v = PickleBytes()
    v.op(0x4D, le16(1001))
    v.stop()
    var s = PickleBytes()
    s.op(0x7D)
    s.stop()
    return p.bytes + v.bytes + s.bytes
}
