/// Reads legacy `torch.save` files (torch < 1.6, or `_use_new_zipfile_serialization=False`).
///
/// Layout: five pickles — magic number, protocol version (1001), sys_info, the
/// object, the list of storage keys — then, for each key in that list, an int64
/// element count and the storage's raw little-endian bytes.
enum TorchLegacyLoader {
    /// 0x1950a86a20f9469cfc6c as little-endian two's complement bytes, as LONG1 stores it.
    private static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    static func load(_ bytes: UnsafeRawBufferPointer, entry: String?) throws(ParseError) -> ParsedCheckpoint {
        var reader = ByteReader(bytes, what: "the checkpoint's pickle data")
        var header = Unpickler()
        // Every pickle, including this first one, goes through the restricted unpickler,
        // so a bare malicious pickle is refused here rather than called "not a checkpoint".
        let notTorch = "file starts like a Python pickle but is not a torch.save checkpoint"
        let first: PickleValue
        do {
            first = try header.load(&reader)
        } catch where error.code == .corrupt || error.code == .unsupported {
            throw ParseError(.unknownFormat, "\(notTorch) (\(error.message))")
        }
        guard case .bigInt(let m) = first, m == magic else {
            throw ParseError(.unknownFormat, "\(notTorch) (no PyTorch magic number)")
        }
        guard case .int(let version) = try header.load(&reader) else {
            throw .corrupt("legacy checkpoint has no protocol version")
        }
        guard version == 1001 else {
            throw ParseError(.unsupported, "legacy checkpoint protocol version \(version) is not supported (expected 1001)")
        }
        let sysInfo = try header.load(&reader)
        if case .dict(let d) = sysInfo {
            let info = header.arena.dicts[d]
            for (key, value) in zip(info.keys, info.values) {
                if case .string("little_endian") = key, case .bool(false) = value {
                    throw ParseError(.unsupported, "checkpoint was saved on a big-endian machine in the legacy format; re-save it with a current torch (torch.save(torch.load(path), 'new.pt'))")
                }
            }
        }

        var unpickler = Unpickler()
        let root = try unpickler.load(&reader)
        let arena = unpickler.arena
        let (pairs, selectionNotes) = try StateDictSelection.select(root, arena: arena, entry: entry)

        var keyReader = Unpickler()
        let keyList = try keyReader.load(&reader)
        guard let keyValues = keyReader.arena.sequence(keyList) else {
            throw .corrupt("legacy checkpoint's storage key list is not a list")
        }
        // The first persistent id naming a root key fixes its element size, as in torch.
        var firstRef: [String: StorageRef] = [:]
        for storage in arena.storages where firstRef[storage.key] == nil { firstRef[storage.key] = storage }

        var blobs = ByteReader(bytes, at: reader.position, what: "the storage data")
        var roots: [String: UnsafeRawBufferPointer] = [:]
        for value in keyValues {
            guard case .string(let key) = value else { throw .corrupt("legacy storage key is a \(value.typeName)") }
            guard let ref = firstRef[key] else {
                throw .corrupt("storage '\(key)' is listed but no tensor refers to it")
            }
            let count = try blobs.i64()
            guard count == Int64(ref.numel) else {
                throw .corrupt("storage '\(key)' holds \(count) elements but its tensors expect \(ref.numel)")
            }
            guard let size = Checked.multiply(ref.numel, ref.kind.elementSize) else {
                throw .corrupt("storage '\(key)' is impossibly large")
            }
            roots[key] = try blobs.slice(size)
        }

        let (stateDict, notes) = try StateDictSelection.materialize(
            pairs, arena: arena, fileSize: bytes.count, bigEndian: false
        ) { (storage) throws(ParseError) -> UnsafeRawBufferPointer in
            guard let root = roots[storage.key] else {
                throw .corrupt("storage '\(storage.key)' has no data in the file")
            }
            guard let view = storage.view else { return root }
            let size = storage.kind.elementSize
            guard let start = Checked.multiply(view.offset, size), let length = Checked.multiply(view.size, size),
                  let end = Checked.add(start, length), end <= root.count else {
                throw .corrupt("storage view '\(view.key)' (offset \(view.offset), \(view.size) elements) lies outside storage '\(storage.key)'")
            }
            return UnsafeRawBufferPointer(rebasing: root[start..<end])
        }
        return ParsedCheckpoint(format: .pytorchLegacy, stateDict: stateDict, notes: selectionNotes + notes)
    }
}
