import Foundation

/// A generator checkpoint read into named float tensors.
///
/// Loading is safe on untrusted files: pickles are interpreted by a restricted
/// unpickler that never runs code, and every size and offset is validated, so a
/// hostile or damaged file yields a `CheckpointError`.
public struct Checkpoint: Sendable {
    /// The file it was loaded from.
    public let path: String
    /// The container format, detected from the content.
    public let format: CheckpointFormat
    /// Tensors by name, in file order, after prefix stripping.
    public var stateDict: StateDict
    /// Human-readable notes on everything done beyond a plain read
    /// (unwrapping, prefix stripping, device tags, dtype conversion).
    public var notes: [String]

    /// Creates a checkpoint from parts (for tests and tools that build state dicts).
    public init(path: String, format: CheckpointFormat, stateDict: StateDict, notes: [String] = []) {
        self.path = path
        self.format = format
        self.stateDict = stateDict
        self.notes = notes
    }

    /// Loads a checkpoint, detecting the format from the content, not the extension.
    ///
    /// Equivalent to `load(contentsOf: url, entry: nil)`.
    public static func load(contentsOf url: URL) throws(CheckpointError) -> Checkpoint {
        try load(contentsOf: url, entry: nil)
    }

    /// Loads a checkpoint, detecting the format from the content, not the extension.
    ///
    /// - Parameters:
    ///   - url: a local file; it is memory-mapped, not read into memory.
    ///   - entry: for training checkpoints that hold several state_dicts (e.g. `G` and `D`),
    ///     the key of the one to load. With `nil`, a single nested state_dict is unwrapped
    ///     automatically and several are an error that lists them.
    public static func load(contentsOf url: URL, entry: String?) throws(CheckpointError) -> Checkpoint {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(code: .unreadable, path: path, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw CheckpointError(code: .unreadable, path: path, message: "is a directory, not a checkpoint file")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        if size == 0 { throw emptyError(path) }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw CheckpointError(code: .unreadable, path: path, message: "cannot read the file",
                                  underlying: error.localizedDescription)
        }
        return try load(data: data, path: path, entry: entry)
    }

    /// Loads a checkpoint from bytes already in memory.
    ///
    /// - Parameters:
    ///   - path: used only in messages and `Checkpoint.path`.
    ///   - entry: see `load(contentsOf:entry:)`.
    public static func load(data: Data, path: String, entry: String? = nil) throws(CheckpointError) -> Checkpoint {
        if data.isEmpty { throw emptyError(path) }
        let result: Result<ParsedCheckpoint, ParseError> = data.withUnsafeBytes { raw in
            Result { () throws(ParseError) -> ParsedCheckpoint in try parse(raw, entry: entry) }
        }
        switch result {
        case .success(var parsed):
            parsed.notes += PrefixNormalization.strip(&parsed.stateDict)
            return Checkpoint(path: path, format: parsed.format, stateDict: parsed.stateDict, notes: parsed.notes)
        case .failure(let error):
            throw CheckpointError(code: error.code, path: path, message: error.message)
        }
    }

    private static func emptyError(_ path: String) -> CheckpointError {
        CheckpointError(code: .empty, path: path, message: "file is empty (0 bytes); the save or download probably failed")
    }

    private static func parse(_ raw: UnsafeRawBufferPointer, entry: String?) throws(ParseError) -> ParsedCheckpoint {
        func startsWith(_ p: [UInt8], at offset: Int = 0) -> Bool {
            raw.count >= offset + p.count && zip(raw[offset...], p).allSatisfy { $0 == $1 }
        }
        func startsWith(_ ascii: String, at offset: Int = 0) -> Bool { startsWith(Array(ascii.utf8), at: offset) }
        if startsWith("PK\u{03}\u{04}") || startsWith("PK\u{05}\u{06}") || startsWith("PK\u{06}\u{06}") {
            return try TorchZipLoader.load(raw, entry: entry)
        }
        // Pickle PROTO opcode (torch.save has always used protocol ≥ 2), unless byte 8 opens a
        // safetensors header: a header of 640 + 65536·k bytes also starts with 0x80 0x02. A
        // legacy torch.save file has its magic number's 0xf9 there.
        if raw[0] == 0x80 && !SafetensorsLoader.looksLike(raw) {
            return try TorchLegacyLoader.load(raw, entry: entry)
        }
        if SafetensorsLoader.looksLike(raw) {
            if entry != nil { throw ParseError(.notAStateDict, "safetensors files hold a single state_dict; there is no entry to choose") }
            return try SafetensorsLoader.load(raw)
        }
        let hint: String
        if startsWith("version https://git-lfs") {
            hint = "this is a Git LFS pointer, not the checkpoint itself: fetch the real file with git lfs pull"
        } else if startsWith("<!DOCTYPE") || startsWith("<!doctype") || startsWith("<html") || startsWith("<HTML") {
            hint = "this is an HTML page, not a checkpoint: the download URL probably returned an error or confirmation page"
        } else if startsWith([0x89] + Array("HDF".utf8)) {
            hint = "this is an HDF5 file (Keras/TensorFlow weights), not a PyTorch checkpoint"
        } else if startsWith([0x93] + Array("NUMPY".utf8)) {
            hint = "this is a numpy .npy array, not a PyTorch checkpoint"
        } else if startsWith("ustar", at: 257) {
            hint = "this is a tar archive (torch.save before 0.1.10 used tar): load it in Python and re-save with torch.save(torch.load(path), 'new.pt')"
        } else if startsWith("GGUF") {
            hint = "this is a GGUF file, not a PyTorch checkpoint"
        } else {
            let head = raw.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            hint = "not a PyTorch (.pt/.pth) or safetensors checkpoint (file starts with bytes \(head))"
        }
        throw ParseError(.unknownFormat, hint)
    }
}

/// Removes the key prefixes that wrappers add (`nn.DataParallel` → `module.`,
/// `torch.compile` → `_orig_mod.`), which never belong to the architecture itself.
enum PrefixNormalization {
    static let prefixes = ["module.", "_orig_mod."]

    /// Strips a prefix only when every key carries it: a model may have a real
    /// submodule called `module`, whose keys must survive. Wrappers nest (`module._orig_mod.`,
    /// or `module.` several times), so stripping repeats, in one pass over the keys' bytes: a
    /// hostile key of megabytes of `module.` would otherwise be re-scanned once per prefix.
    static func strip(_ stateDict: inout StateDict) -> [String] {
        guard !stateDict.isEmpty else { return [] }
        let keys = stateDict.keys.map { Array($0.utf8) }
        let prefixBytes = prefixes.map { Array($0.utf8) }
        var offset = 0
        var stripped: [(prefix: String, times: Int)] = []
        // Every key carries `p` at `offset`, with something after it.
        func allCarry(_ p: [UInt8]) -> Bool {
            keys.allSatisfy { key in
                key.count > offset + p.count && key[offset..<(offset + p.count)].elementsEqual(p)
            }
        }
        var changed = true
        while changed {
            changed = false
            for (i, p) in prefixBytes.enumerated() where allCarry(p) {
                offset += p.count
                if stripped.last?.prefix == prefixes[i] { stripped[stripped.count - 1].times += 1 } else {
                    stripped.append((prefixes[i], 1))
                }
                changed = true
            }
        }
        guard offset > 0 else { return [] }
        var renamed = StateDict()
        for (key, tensor) in stateDict {
            renamed[String(decoding: key.utf8.dropFirst(offset), as: UTF8.self)] = tensor
        }
        stateDict = renamed
        let n = stateDict.count
        return stripped.map { entry in
            let times = entry.times == 1 ? "" : " \(entry.times) times"
            return "stripped '\(entry.prefix)' prefix\(times) from \(n) key\(n == 1 ? "" : "s")"
        }
    }
}
