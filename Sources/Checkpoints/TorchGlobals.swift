/// How a storage class named in a persistent id maps to an element type.
enum StorageKind: Equatable {
    case typed(TensorDType)
    /// `torch.UntypedStorage`: raw bytes, the tensor's dtype comes from `_rebuild_tensor_v3`.
    case untyped
    /// A real torch storage class whose dtype Gantry does not convert (complex, quantized, …).
    case unsupported(String)
}

/// A dtype named by a `torch.<dtype>` global (used by `_rebuild_tensor_v3`).
enum DTypeGlobal: Equatable {
    case supported(TensorDType)
    case unsupported(String)
}

/// The Python globals a state_dict may reference. Nothing else is ever resolved:
/// each case is interpreted by our own Swift code, so loading never runs code.
enum TorchGlobal: Equatable, CustomStringConvertible {
    case orderedDict
    case rebuildTensor, rebuildTensorV2, rebuildTensorV3
    case rebuildParameter, rebuildParameterWithState
    /// `torch._tensor._rebuild_from_type_v2`: wraps a rebuild call for tensors carrying Python attributes.
    case rebuildFromTypeV2
    /// `torch.Tensor` or `torch.nn.parameter.Parameter`, only meaningful as `_rebuild_from_type_v2`'s type.
    case tensorClass(name: String)
    case storageType(StorageKind, name: String)
    case dtype(DTypeGlobal, name: String)
    case codecsEncode
    case torchSize
    case torchDevice

    var description: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensor: "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: "torch._tensor._rebuild_from_type_v2"
        case .tensorClass(let name): name
        case .storageType(_, let name), .dtype(_, let name): name
        case .codecsEncode: "_codecs.encode"
        case .torchSize: "torch.Size"
        case .torchDevice: "torch.device"
        }
    }

    private static let storageTypes: [String: TensorDType] = [
        "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "DoubleStorage": .float64, "LongStorage": .int64, "IntStorage": .int32,
        "ShortStorage": .int16, "CharStorage": .int8, "ByteStorage": .uint8, "BoolStorage": .bool,
    ]

    /// Real torch storage classes we recognise but cannot convert to Float.
    private static let unsupportedStorageTypes: Set<String> = [
        "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage",
        "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage",
    ]

    private static let dtypes: [String: TensorDType] = [
        "float32": .float32, "float": .float32, "float16": .float16, "half": .float16,
        "bfloat16": .bfloat16, "float64": .float64, "double": .float64, "int64": .int64,
        "long": .int64, "int32": .int32, "int": .int32, "int16": .int16, "short": .int16,
        "int8": .int8, "uint8": .uint8, "bool": .bool,
    ]

    private static let unsupportedDTypes: Set<String> = [
        "uint16", "uint32", "uint64", "complex32", "complex64", "complex128", "chalf", "cfloat",
        "cdouble", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
        "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
    ]

    /// Resolves `module.name` against the allow-list, or throws a `.refusedGlobal` error naming it.
    static func resolve(module: String, name: String) throws(ParseError) -> TorchGlobal {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch.storage", "UntypedStorage"), ("torch", "UntypedStorage"):
            return .storageType(.untyped, name: "\(module).\(name)")
        case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromTypeV2
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"), ("torch.nn.parameter", "Parameter"):
            return .tensorClass(name: "\(module).\(name)")
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch", "Size"): return .torchSize
        case ("torch", "device"): return .torchDevice
        default: break
        }
        if module == "torch" || module == "torch.cuda" {
            if let dtype = storageTypes[name] {
                return .storageType(.typed(dtype), name: "\(module).\(name)")
            }
            if unsupportedStorageTypes.contains(name) {
                return .storageType(.unsupported(name), name: "\(module).\(name)")
            }
        }
        if module == "torch" {
            if let dtype = dtypes[name] { return .dtype(.supported(dtype), name: "torch.\(name)") }
            if unsupportedDTypes.contains(name) { return .dtype(.unsupported(name), name: "torch.\(name)") }
        }
        throw refusal(module: module, name: name)
    }

    /// Modules whose globals are plainly code execution, so no "re-save" hint applies.
    private static let dangerousModules: Set<String> = [
        "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket",
        "importlib", "runpy", "pickle", "_pickle", "codecs", "_codecs", "webbrowser", "pty",
        "commands", "platform", "ctypes", "multiprocessing", "operator", "functools", "types",
        "code", "inspect", "timeit", "marshal", "pdb", "copyreg", "copy_reg", "io", "pathlib",
    ]

    static func refusal(module: String, name: String) -> ParseError {
        var message = "refusing to load '\(module).\(name)': checkpoints may only contain tensors and dicts (loading never runs code)"
        let root = module.split(separator: ".").first.map(String.init) ?? module
        if dangerousModules.contains(root) {
            message += "; this file tries to run code and may be malicious"
        } else if root == "numpy" {
            message += "; the file contains numpy objects: convert them to tensors before torch.save"
        } else if root == "__torch__" {
            message += "; this is a TorchScript model: in Python, re-save its weights with torch.save(torch.jit.load(path).state_dict(), 'weights.pt')"
        } else if module == "torch._utils" || module == "torch._tensor" {
            message += "; the file contains a tensor kind Gantry does not read (quantized, sparse, nested or a tensor subclass)"
        } else if name.first?.isUppercase == true || root == "torch" || root == "__main__" {
            message += "; the file holds a pickled model object (torch.save(model)) rather than a state_dict: in Python, load it with its source code and re-save with torch.save(net.state_dict(), path)"
        }
        return ParseError(.refusedGlobal, message)
    }
}
