/// What a format parser hands back before the path and name normalisation are applied.
struct ParsedCheckpoint {
    var format: CheckpointFormat
    var stateDict: StateDict
    var notes: [String]
}

extension StorageKind {
    /// Bytes per element, also for kinds we cannot convert (legacy files must still be walked past them).
    var elementSize: Int {
        switch self {
        case .typed(let dtype): dtype.byteSize
        case .untyped: 1
        case .unsupported(let name):
            switch name {
            case "ComplexDoubleStorage": 16
            case "ComplexFloatStorage": 8
            case "QInt32Storage": 4
            default: 1
            }
        }
    }
}

/// Turns an unpickled torch object into a state_dict: finds the dict of tensors
/// (unwrapping a training checkpoint when unambiguous) and reads the tensors.
enum StateDictSelection {
    /// Finds the dict of tensors in `root`.
    ///
    /// - Parameter entry: the key of the wanted state_dict when `root` wraps several.
    /// - Returns: `(name, index into arena.tensors)` pairs, plus notes on what was unwrapped.
    static func select(_ root: PickleValue, arena: PickleArena,
                       entry: String?) throws(ParseError) -> (pairs: [(String, Int)], notes: [String]) {
        guard case .dict(let d) = root else {
            let what = switch root {
            case .tensor: "a single tensor"
            case .list, .tuple: "a \(root.typeName) (not a dict of named tensors)"
            default: "a \(root.typeName)"
            }
            throw ParseError(.notAStateDict, "the file holds \(what), not a state_dict (a dict of parameter names to tensors)")
        }
        let dict = arena.dicts[d]
        let names = dict.keys.map(describeKey)

        if let entry {
            guard let i = names.firstIndex(of: entry) else {
                throw ParseError(.notAStateDict, "the file has no entry '\(entry)' (entries: \(list(names)))")
            }
            guard case .dict(let inner) = dict.values[i], let pairs = tensorPairs(arena.dicts[inner], arena) else {
                throw ParseError(.notAStateDict, "entry '\(entry)' is not a dict of tensors")
            }
            return (pairs, ["using the state_dict stored under '\(entry)'"])
        }

        if let pairs = tensorPairs(dict, arena) { return (pairs, []) }

        var candidates: [(name: String, pairs: [(String, Int)])] = []
        for (name, value) in zip(names, dict.values) {
            if case .dict(let inner) = value, let pairs = tensorPairs(arena.dicts[inner], arena) {
                candidates.append((name, pairs))
            }
        }
        if candidates.count == 1 {
            let other = names.filter { $0 != candidates[0].name }
            let ignored = other.isEmpty ? "" : " (ignored other entries: \(list(other)))"
            return (candidates[0].pairs, ["using the state_dict stored under '\(candidates[0].name)'\(ignored)"])
        }
        if candidates.count > 1 {
            throw ParseError(.notAStateDict, "the file holds several state_dicts (\(list(candidates.map(\.name)))); choose one by passing its name as the entry to load")
        }

        // No nested state_dict: accept the tensors of a mixed dict, saying what was dropped.
        var pairs: [(String, Int)] = []
        var dropped: [String] = []
        for (key, value) in zip(dict.keys, dict.values) {
            if case .string(let name) = key, case .tensor(let t) = value { pairs.append((name, t)) } else { dropped.append(describeKey(key)) }
        }
        guard !pairs.isEmpty else {
            let detail = names.isEmpty ? "an empty dict" : "a dict without tensors (entries: \(list(names)))"
            throw ParseError(.notAStateDict, "the file holds \(detail), not a state_dict")
        }
        return (pairs, ["ignored \(dropped.count) non-tensor entr\(dropped.count == 1 ? "y" : "ies"): \(list(dropped))"])
    }

    /// The pairs of a non-empty dict whose keys are all strings and values all tensors.
    private static func tensorPairs(_ dict: PickleDict, _ arena: PickleArena) -> [(String, Int)]? {
        guard dict.count > 0 else { return nil }
        var pairs: [(String, Int)] = []
        pairs.reserveCapacity(dict.count)
        for (key, value) in zip(dict.keys, dict.values) {
            guard case .string(let name) = key, case .tensor(let t) = value else { return nil }
            pairs.append((name, t))
        }
        return pairs
    }

    private static func describeKey(_ key: PickleValue) -> String {
        switch key {
        case .string(let s): s
        case .int(let i): String(i)
        case .bytes(let b): String(decoding: b, as: UTF8.self)
        default: "<\(key.typeName)>"
        }
    }

    private static func list(_ names: [String]) -> String {
        let shown = names.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 8 ? shown + ", … (\(names.count) in all)" : shown
    }

    /// Reads the selected tensors.
    ///
    /// - Parameter storageBytes: the bytes of a storage (already narrowed to a legacy view).
    static func materialize(_ pairs: [(String, Int)], arena: PickleArena, fileSize: Int, bigEndian: Bool,
                            storageBytes: (StorageRef) throws(ParseError) -> UnsafeRawBufferPointer) throws(ParseError) -> (StateDict, [String]) {
        var budget = TensorConversion.Budget(fileSize: fileSize)
        var stateDict = StateDict()
        var locations: [String] = []
        var converted: [TensorDType: Int] = [:]
        for (name, index) in pairs {
            let ref = arena.tensors[index]
            guard let dtype = ref.dtype else {
                throw ParseError(.unsupported, "tensor '\(name)' has dtype \(ref.unsupportedDType ?? "?"), which Gantry cannot convert to float32; convert it in Python (tensor.float()) and re-save")
            }
            let storage = arena.storages[ref.storage]
            let bytes = try storageBytes(storage)
            var values = try TensorConversion.gather(storage: bytes, dtype: dtype, bigEndian: bigEndian,
                                                     offset: ref.offset, shape: ref.shape, stride: ref.stride,
                                                     key: name, budget: &budget)
            if ref.negated { for i in values.indices { values[i] = -values[i] } }
            stateDict[name] = CheckpointTensor(shape: ref.shape, dtype: dtype, values: values)
            if storage.location != "cpu", !locations.contains(storage.location) { locations.append(storage.location) }
            if dtype != .float32 { converted[dtype, default: 0] += 1 }
        }
        var notes: [String] = []
        if !locations.isEmpty { notes.append("storages tagged \(locations.joined(separator: ", ")) loaded on CPU") }
        notes += conversionNotes(converted)
        return (stateDict, notes)
    }

    static func conversionNotes(_ converted: [TensorDType: Int]) -> [String] {
        TensorDType.allCases.compactMap { dtype in
            guard let n = converted[dtype] else { return nil }
            return "converted \(n) \(dtype.rawValue) tensor\(n == 1 ? "" : "s") to float32"
        }
    }
}
