/// Element type of a tensor as stored in the checkpoint file.
///
/// Values are always handed out as `Float`; the stored type is kept so callers
/// can tell e.g. a BatchNorm `num_batches_tracked` counter from a weight.
public enum TensorDType: String, Sendable, CaseIterable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    /// Bytes per element in the file.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// Whether the type is a floating-point type.
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: true
        default: false
        }
    }
}

/// A dense tensor read from a checkpoint, converted to `Float`.
public struct CheckpointTensor: Sendable {
    /// Dimensions, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// The element type as stored in the file (values are converted to `Float` regardless).
    public let dtype: TensorDType
    /// Elements in contiguous row-major order, `shape.reduce(1, *)` of them.
    public let values: [Float]

    /// Creates a tensor. `values.count` must equal the product of `shape`.
    public init(shape: [Int], dtype: TensorDType = .float32, values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == values.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.dtype = dtype
        self.values = values
    }

    /// Number of elements.
    public var count: Int { values.count }
}

/// The container format a checkpoint was read from.
public enum CheckpointFormat: String, Sendable {
    /// `torch.save` since torch 1.6: a ZIP archive with `data.pkl` and one entry per storage.
    case pytorchZip = "pytorch-zip"
    /// `torch.save` before 1.6 (or with `_use_new_zipfile_serialization=False`): pickles followed by raw storages.
    case pytorchLegacy = "pytorch-legacy"
    /// The safetensors format: a JSON header followed by raw little-endian data.
    case safetensors
}

/// An insertion-ordered map from parameter names to tensors.
///
/// Order is the order of the file, which is the module registration order for
/// PyTorch state_dicts; that is what makes error messages and dumps readable.
public struct StateDict: Sendable, Sequence {
    /// Names in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: CheckpointTensor] = [:]

    /// Creates an empty state dict.
    public init() {}

    /// Creates a state dict from pairs; a repeated key keeps its first position and last value.
    public init(_ pairs: [(String, CheckpointTensor)]) {
        for (key, tensor) in pairs { self[key] = tensor }
    }

    /// The tensor named `key`; assigning `nil` removes it, assigning a new key appends it.
    public subscript(key: String) -> CheckpointTensor? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Removes and returns the tensor named `key`, if present.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> CheckpointTensor? {
        guard let old = storage.removeValue(forKey: key) else { return nil }
        keys.removeAll { $0 == key }
        return old
    }

    /// Number of tensors.
    public var count: Int { keys.count }

    /// Whether there are no tensors.
    public var isEmpty: Bool { keys.isEmpty }

    /// Iterates `(key, tensor)` pairs in insertion order.
    public func makeIterator() -> AnyIterator<(key: String, tensor: CheckpointTensor)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            let key = keys[index]
            return (key, storage[key]!)
        }
    }
}
