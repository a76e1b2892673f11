/// A value produced by the restricted unpickler.
///
/// Containers are indices into a `PickleArena` instead of nested values: a
/// hostile pickle can nest millions of levels deep or build cycles through the
/// memo, and a flat arena never recurses when it is walked or deallocated.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too large for `Int`: little-endian two's complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int)
    case list(Int)
    case dict(Int)
    /// An allow-listed global (a class or function we interpret ourselves).
    case global(TorchGlobal)
    /// A storage reference from a persistent id; index into `PickleArena.storages`.
    case storage(Int)
    /// A tensor whose data is read later; index into `PickleArena.tensors`.
    case tensor(Int)
    /// An allowed object we do not need, e.g. a `torch.device`; the text says what it was.
    case opaque(String)

    /// Short type name for error messages.
    var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let g): "global \(g)"
        case .storage: "storage"
        case .tensor: "tensor"
        case .opaque(let what): what
        }
    }
}

/// Hashable form of a dict key (str, bytes, int, bool, None, float or a tuple of those).
enum PickleKey: Hashable {
    case none, bool(Bool), int(Int), bigInt([UInt8]), float(Double), string(String), bytes([UInt8])
    indirect case tuple([PickleKey])
}

/// A Python dict: insertion-ordered, later assignments to a key replace its value.
struct PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [PickleKey: Int] = [:]

    var count: Int { keys.count }

    mutating func set(_ key: PickleValue, _ value: PickleValue, hashKey: PickleKey) {
        if let i = index[hashKey] {
            values[i] = value
        } else {
            index[hashKey] = keys.count
            keys.append(key)
            values.append(value)
        }
    }
}

/// A storage named by a persistent id `('storage', type, key, location, numel[, view])`.
struct StorageRef {
    /// Key of the root storage: a zip record name or a legacy storage key.
    let key: String
    let kind: StorageKind
    /// Device tag such as `cpu` or `cuda:0`; everything is loaded on the CPU.
    let location: String
    /// Size of the root storage in elements of `kind` (bytes for untyped storages).
    let numel: Int
    /// Legacy storage views: this storage is `numel` elements of root `key` starting at `offset`.
    let view: (key: String, offset: Int, size: Int)?
}

/// A tensor rebuilt from `_rebuild_tensor*`; its data is read once the storages are known.
struct TensorRef {
    let storage: Int
    /// nil when the dtype is one Gantry cannot convert; `unsupportedDType` then names it.
    let dtype: TensorDType?
    let unsupportedDType: String?
    let offset: Int
    let shape: [Int]
    let stride: [Int]
    /// torch's lazy negation bit (`_neg_view`), recorded in tensor metadata.
    let negated: Bool
}

/// Everything an unpickler run produced; values refer into it by index.
struct PickleArena {
    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [PickleDict] = []
    var storages: [StorageRef] = []
    var tensors: [TensorRef] = []

    mutating func tuple(_ items: [PickleValue]) -> PickleValue {
        tuples.append(items)
        return .tuple(tuples.count - 1)
    }

    mutating func list(_ items: [PickleValue]) -> PickleValue {
        lists.append(items)
        return .list(lists.count - 1)
    }

    mutating func dict(_ dict: PickleDict = PickleDict()) -> PickleValue {
        dicts.append(dict)
        return .dict(dicts.count - 1)
    }

    /// Items of a tuple or list; nil for anything else.
    func sequence(_ value: PickleValue) -> [PickleValue]? {
        switch value {
        case .tuple(let i): tuples[i]
        case .list(let i): lists[i]
        default: nil
        }
    }

    /// Hashable key for `value`; tuples are followed only a few levels deep. Each node visited
    /// (and each byte of text) is charged to `budget`: through the memo, a tuple of W copies of a
    /// tuple of W copies … has W^depth nodes in a few bytes.
    func hashKey(_ value: PickleValue, budget: inout Int, depth: Int = 0) throws(ParseError) -> PickleKey {
        budget -= 1
        if budget < 0 { throw Unpickler.overBudget }
        switch value {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let b):
            budget -= b.count
            return .bigInt(b)
        case .float(let d): return .float(d)
        case .string(let s):
            budget -= s.utf8.count  // hashing reads every byte
            if budget < 0 { throw Unpickler.overBudget }
            return .string(s)
        case .bytes(let b):
            budget -= b.count
            if budget < 0 { throw Unpickler.overBudget }
            return .bytes(b)
        case .tuple(let t) where depth < 8:
            var keys: [PickleKey] = []
            for item in tuples[t] { keys.append(try hashKey(item, budget: &budget, depth: depth + 1)) }
            return .tuple(keys)
        default:
            throw .corrupt("pickle uses a \(value.typeName) as a dict key")
        }
    }
}
