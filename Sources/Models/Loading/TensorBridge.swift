import Checkpoints
import Engine

// The one place engine tensors and checkpoint tensors convert: Models is the lowest module that
// sees both (Engine and Checkpoints know nothing of each other).

extension CheckpointTensor {
    /// `tensor`'s shape and float32 values.
    public init(_ tensor: Tensor) { self.init(shape: tensor.shape, values: tensor.values) }
}

extension Tensor {
    /// A checkpoint tensor's values as an engine tensor (float32, the same shape).
    public init(_ tensor: CheckpointTensor) throws { try self.init(shape: tensor.shape, values: tensor.values) }
}

extension Module {
    /// The module's state_dict — parameters and buffers in PyTorch's order — as `torch.save`
    /// would write it.
    public func stateDict() -> StateDict {
        var sd = StateDict()
        for (key, value, _, _) in namedTensors() { sd[key] = CheckpointTensor(value) }
        return sd
    }
}
