// libFuzzer target: architecture detection and network building from a state_dict described
// as text, one tensor per line: `<key> <dim> <dim> ...` (no dims: a 0-d tensor).
//
// The `architecture` target reaches the same code through real checkpoint files, but a
// mutation there rarely changes a tensor's shape while keeping the file consistent (the data
// size must follow the shape). Here every mutation of a key or a dimension is a new state_dict.
@testable import Checkpoints
import Engine
import Models

// What a real file of at most -max_len bytes could hold: a tensor's values must be in the file,
// so larger shapes are not reachable through a checkpoint and are skipped rather than reported.
private let maxValues = 1 << 22
private let maxRank = 8

// The engine keeps up to 2 GB of freed buffers for reuse by the next forward pass. Under
// -rss_limit_mb=2048 that retention alone could be reported as out-of-memory, so it is capped
// to a size that still lets consecutive inputs reuse buffers.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    BufferPool.shared.idleLimit = 256 << 20
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchitectureKeys(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var stateDict = StateDict()
    var total = 0
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard let key = fields.first, fields.count - 1 <= maxRank else { return 0 }
        var shape: [Int] = []
        for field in fields.dropFirst() {
            guard let dim = Int(field), dim >= 0 else { return 0 }
            shape.append(dim)
        }
        guard let count = Checked.product(shape), let sum = Checked.add(total, count), sum <= maxValues else {
            return 0
        }
        total = sum
        stateDict[String(key)] = CheckpointTensor(shape: shape, values: [Float](repeating: 0, count: count))
    }
    guard !stateDict.isEmpty else { return 0 }
    // The normalisation Checkpoint.load applies to every file, so keys reach detection as they would.
    let notes = PrefixNormalization.strip(&stateDict)
    _ = try? Generator.load(Checkpoint(path: "fuzz.txt", format: .safetensors, stateDict: stateDict, notes: notes))
    return 0
}
