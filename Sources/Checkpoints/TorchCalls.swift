/// Our own interpretation of the few callables a state_dict pickle invokes.
///
/// Where Python would call `torch._utils._rebuild_tensor_v2(...)`, we validate the
/// arguments and record a `TensorRef`; data is read and bounds-checked later.
extension Unpickler {
    mutating func call(_ callable: PickleValue, args argsValue: PickleValue) throws(ParseError) -> PickleValue {
        guard case .global(let global) = callable else {
            throw .corrupt("pickle calls a \(callable.typeName), which is not callable")
        }
        guard case .tuple(let t) = argsValue else {
            throw .corrupt("pickle calls \(global) with \(argsValue.typeName) arguments instead of a tuple")
        }
        let args = arena.tuples[t]
        switch global {
        case .orderedDict:
            return try orderedDict(args)
        case .rebuildTensor:
            try expectArgs(global, args, 4...4)
            return try rebuildTensor(storage: args[0], offset: args[1], size: args[2], stride: args[3],
                                     dtype: nil, metadata: nil)
        case .rebuildTensorV2:
            try expectArgs(global, args, 6...7)
            return try rebuildTensor(storage: args[0], offset: args[1], size: args[2], stride: args[3],
                                     dtype: nil, metadata: args.count > 6 ? args[6] : nil)
        case .rebuildTensorV3:
            try expectArgs(global, args, 7...8)
            guard case .global(.dtype(let dtype, _)) = args[6] else {
                throw .corrupt("\(global) expects a dtype, got \(args[6].typeName)")
            }
            return try rebuildTensor(storage: args[0], offset: args[1], size: args[2], stride: args[3],
                                     dtype: dtype, metadata: args.count > 7 ? args[7] : nil)
        case .rebuildParameter, .rebuildParameterWithState:
            // A Parameter is its data tensor plus autograd flags we do not need.
            try expectArgs(global, args, global == .rebuildParameter ? 3...3 : 4...4)
            guard case .tensor = args[0] else { throw .corrupt("\(global) wraps a \(args[0].typeName), not a tensor") }
            return args[0]
        case .rebuildFromTypeV2:
            // (func, type, args, state): only the plain tensor rebuilds may be wrapped, which
            // also keeps a hostile pickle from nesting these calls without bound.
            try expectArgs(global, args, 4...4)
            guard case .global(let inner) = args[0],
                  [.rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildParameterWithState].contains(inner),
                  case .global(.tensorClass) = args[1] else {
                throw ParseError(.unsupported, "\(global) wraps something other than a plain tensor or Parameter")
            }
            return try call(args[0], args: args[2])
        case .codecsEncode:
            // Protocol 2 writes `bytes` as _codecs.encode(text, 'latin1').
            try expectArgs(global, args, 2...2)
            guard case .string(let text) = args[0], case .string(let encoding) = args[1],
                  ["latin1", "latin-1", "iso-8859-1", "iso8859-1"].contains(encoding.lowercased()) else {
                throw ParseError(.unsupported, "pickle calls _codecs.encode with arguments other than (str, 'latin1')")
            }
            try charge(text.utf8.count)
            var bytes: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw .corrupt("latin1 bytes contain U+\(String(scalar.value, radix: 16))") }
                bytes.append(UInt8(scalar.value))
            }
            return .bytes(bytes)
        case .torchSize:
            try expectArgs(global, args, 0...1)
            try charge(args.first.flatMap { arena.sequence($0)?.count } ?? 0)
            return args.isEmpty ? arena.tuple([]) : arena.tuple(arena.sequence(args[0]) ?? [])
        case .torchDevice:
            return .opaque("torch.device")
        case .storageType, .dtype, .tensorClass:
            throw ParseError(.unsupported, "pickle calls \(global), which a state_dict never does")
        }
    }

    private func expectArgs(_ global: TorchGlobal, _ args: [PickleValue], _ range: ClosedRange<Int>) throws(ParseError) {
        guard range.contains(args.count) else {
            throw .corrupt("\(global) called with \(args.count) arguments (expected \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)–\(range.upperBound)"))")
        }
    }

    /// `OrderedDict()` from Python 3, or Python 2.7's `OrderedDict([[key, value], ...])`.
    private mutating func orderedDict(_ args: [PickleValue]) throws(ParseError) -> PickleValue {
        guard args.count <= 1 else { throw .corrupt("OrderedDict called with \(args.count) arguments") }
        var dict = PickleDict()
        if let items = args.first {
            guard let pairs = arena.sequence(items) else {
                throw .corrupt("OrderedDict built from a \(items.typeName) instead of a list of pairs")
            }
            try charge(pairs.count)
            for pair in pairs {
                guard let kv = arena.sequence(pair), kv.count == 2 else {
                    throw .corrupt("OrderedDict item is not a (key, value) pair")
                }
                dict.set(kv[0], kv[1], hashKey: try arena.hashKey(kv[0], budget: &budget))
            }
        }
        return arena.dict(dict)
    }

    private func int(_ value: PickleValue, _ what: String) throws(ParseError) -> Int {
        switch value {
        case .int(let i) where i >= 0: return i
        case .bool(let b): return b ? 1 : 0
        default: throw .corrupt("\(what) is \(value.typeName == "int" ? "out of range" : "a \(value.typeName), not an integer")")
        }
    }

    private func intList(_ value: PickleValue, _ what: String) throws(ParseError) -> [Int] {
        guard let items = arena.sequence(value) else { throw .corrupt("\(what) is a \(value.typeName), not a tuple") }
        // torch supports at most 64 dimensions.
        guard items.count <= 64 else { throw .corrupt("\(what) has \(items.count) dimensions") }
        var result: [Int] = []
        for item in items { result.append(try int(item, what)) }
        return result
    }

    private mutating func rebuildTensor(storage: PickleValue, offset: PickleValue, size: PickleValue,
                                        stride: PickleValue, dtype: DTypeGlobal?,
                                        metadata: PickleValue?) throws(ParseError) -> PickleValue {
        guard case .storage(let s) = storage else {
            throw .corrupt("tensor is rebuilt from a \(storage.typeName) instead of a storage")
        }
        let shape = try intList(size, "tensor size")
        let strides = try intList(stride, "tensor stride")
        guard shape.count == strides.count else {
            throw .corrupt("tensor size \(shape) and stride \(strides) differ in length")
        }
        var negated = false
        if let metadata, case .dict(let d) = metadata {
            let dict = arena.dicts[d]
            for (key, value) in zip(dict.keys, dict.values) {
                guard case .string(let name) = key, case .bool(true) = value else { continue }
                if name == "neg" { negated = true } else if name == "conj" {
                    throw ParseError(.unsupported, "tensor has the complex conjugate bit set; Gantry reads real tensors only")
                }
            }
        }
        var resolved: TensorDType?
        var unsupported: String?
        switch (dtype, arena.storages[s].kind) {
        case (.supported(let d)?, _): resolved = d
        case (.unsupported(let name)?, _): unsupported = name
        case (nil, .typed(let d)): resolved = d
        case (nil, .untyped): resolved = .uint8
        case (nil, .unsupported(let name)): unsupported = name
        }
        arena.tensors.append(TensorRef(storage: s, dtype: resolved, unsupportedDType: unsupported,
                                       offset: try int(offset, "tensor storage offset"),
                                       shape: shape, stride: strides, negated: negated))
        return .tensor(arena.tensors.count - 1)
    }

    /// Interprets torch's persistent ids. Only storages are accepted; `('module', cls, …)`
    /// ids come from `torch.save(model)` in the legacy format.
    mutating func persistentLoad(_ pid: PickleValue) throws(ParseError) -> PickleValue {
        guard let items = arena.sequence(pid), let first = items.first else {
            throw .corrupt("persistent id is a \(pid.typeName), not a tuple")
        }
        let typename: String
        switch first {
        case .string(let s): typename = s
        case .bytes(let b): typename = String(decoding: b, as: UTF8.self)
        default: throw .corrupt("persistent id starts with a \(first.typeName)")
        }
        if typename == "module" {
            throw ParseError(.notAStateDict, "the file holds a pickled model object (torch.save(model)) rather than a state_dict: in Python, load it with its source code and re-save with torch.save(net.state_dict(), path)")
        }
        guard typename == "storage", items.count == 5 || items.count == 6 else {
            throw .corrupt("unknown persistent id '\(typename.prefix(40))' with \(items.count) fields")
        }
        guard case .global(.storageType(let kind, _)) = items[1] else {
            throw .corrupt("storage persistent id names a \(items[1].typeName) instead of a storage type")
        }
        guard case .string(let key) = items[2], case .string(let location) = items[3] else {
            throw .corrupt("storage persistent id has a non-string key or location")
        }
        let numel = try int(items[4], "storage size")
        var view: (key: String, offset: Int, size: Int)?
        if items.count == 6, let v = arena.sequence(items[5]) {
            guard v.count == 3, case .string(let viewKey) = v[0] else { throw .corrupt("storage view metadata is malformed") }
            view = (viewKey, try int(v[1], "storage view offset"), try int(v[2], "storage view size"))
        } else if items.count == 6, case .none = items[5] {
        } else if items.count == 6 {
            throw .corrupt("storage view metadata is a \(items[5].typeName)")
        }
        arena.storages.append(StorageRef(key: key, kind: kind, location: location, numel: numel, view: view))
        return .storage(arena.storages.count - 1)
    }
}
