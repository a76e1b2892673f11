/// Reads `torch.save` zip archives (torch ≥ 1.6).
///
/// Layout: `<stem>/data.pkl` (the pickled object), `<stem>/data/<key>` (one raw
/// storage per key), `<stem>/byteorder` ("little"/"big", absent before torch 1.12:
/// little), plus version records we do not need.
enum TorchZipLoader {
    static func load(_ bytes: UnsafeRawBufferPointer, entry: String?) throws(ParseError) -> ParsedCheckpoint {
        let archive = try ZipArchive(bytes)
        let prefix = try findPrefix(archive)

        var bigEndian = false
        if let order = archive.entry(named: prefix + "byteorder") {
            switch decodeText(try archive.data(of: order)) {
            case "little": bigEndian = false
            case "big": bigEndian = true
            case let other: throw .corrupt("unknown byte order '\(other.prefix(20))' in \(prefix)byteorder")
            }
        }

        let pickle = try archive.data(of: archive.entry(named: prefix + "data.pkl")!)
        var reader = ByteReader(pickle, what: "\(prefix)data.pkl")
        var unpickler = Unpickler()
        let root: PickleValue
        do {
            root = try unpickler.load(&reader)
        } catch where error.code == .truncated {
            // The archive itself is complete; a record shorter than its pickle is damage.
            throw .corrupt("\(prefix)data.pkl ends in the middle of its pickle")
        }
        let arena = unpickler.arena

        let (pairs, selectionNotes) = try StateDictSelection.select(root, arena: arena, entry: entry)
        let (stateDict, notes) = try StateDictSelection.materialize(
            pairs, arena: arena, fileSize: bytes.count, bigEndian: bigEndian
        ) { (storage) throws(ParseError) -> UnsafeRawBufferPointer in
            let name = prefix + "data/" + storage.key
            guard let record = archive.entry(named: name) else {
                throw .corrupt("storage '\(storage.key)' has no record \(name) in the archive")
            }
            let data = try archive.data(of: record)
            guard let needed = Checked.multiply(storage.numel, storage.kind.elementSize), needed <= data.count else {
                throw .corrupt("record \(name) holds \(data.count) bytes, less than its storage of \(storage.numel) elements needs")
            }
            return UnsafeRawBufferPointer(rebasing: data[0..<needed])
        }
        var allNotes = selectionNotes + notes
        if bigEndian { allNotes.append("converted big-endian data") }
        return ParsedCheckpoint(format: .pytorchZip, stateDict: stateDict, notes: allNotes)
    }

    /// Finds the folder holding `data.pkl`: torch uses one top-level folder of any name.
    private static func findPrefix(_ archive: ZipArchive) throws(ParseError) -> String {
        let names = archive.entries.map(\.name)
        if names.contains(where: { $0.hasSuffix("/code/") || $0.contains("/code/__torch__") || $0.hasSuffix("constants.pkl") }) {
            throw ParseError(.notAStateDict, "this is a TorchScript archive (torch.jit.save), not a state_dict: in Python, re-save its weights with torch.save(torch.jit.load(path).state_dict(), 'weights.pt')")
        }
        let prefixes = names.compactMap { name -> String? in
            guard name.hasSuffix("data.pkl") else { return nil }
            let prefix = String(name.dropLast("data.pkl".count))
            return prefix.isEmpty || (prefix.hasSuffix("/") && prefix.dropLast().firstIndex(of: "/") == nil) ? prefix : nil
        }
        guard let prefix = prefixes.first else {
            let shown = names.prefix(5).joined(separator: ", ")
            throw ParseError(.unknownFormat, "zip archive without data.pkl, so not a torch.save checkpoint (entries: \(shown.isEmpty ? "none" : shown)\(names.count > 5 ? ", …" : ""))")
        }
        guard prefixes.count == 1 else {
            throw .corrupt("zip archive holds several data.pkl records (\(prefixes.map { $0 + "data.pkl" }.joined(separator: ", ")))")
        }
        return prefix
    }
}
