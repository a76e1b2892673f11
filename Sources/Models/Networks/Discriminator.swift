import Engine

/// A discriminator network with its weights: build one from an architecture, then initialise it
/// (`root.initializeWeights`) or load a checkpoint into it (see `Discriminator.load`).
public final class Discriminator {
    public let architecture: DiscriminatorArchitecture
    /// The PyTorch-shaped module tree; `root.namedTensors()` are the state_dict entries.
    public let root: Module

    /// Builds the network with zeroed weights; throws when its memory cannot be had. Sizes from a
    /// file go through `Discriminator.load`, which bounds them first.
    public init(_ architecture: DiscriminatorArchitecture) throws {
        self.architecture = architecture
        switch architecture.family {
        case .nLayers: root = try NLayerDiscriminator.make(architecture)
        case .pixel: root = try PixelDiscriminator.make(architecture)
        case .stargan: root = try StarGANDiscriminator(architecture)
        }
    }

    /// Number of trainable parameters (what the reference prints as "Total number of parameters").
    public var parameterCount: Int {
        root.namedTensors().filter { !$0.isBuffer }.reduce(0) { $0 + $1.value.count }
    }

    /// The PatchGAN logits (no sigmoid, as in the reference) for `image` (N×C×H×W): an
    /// N×1×H'×W' map. For StarGAN this is the source head; `starGANHeads` gives both.
    public func forward(_ image: Tensor, context: ForwardContext) throws -> Tensor {
        try forward(Variable(image), ForwardPass(context)).data
    }

    /// StarGAN's `forward`: the real/fake map (N×1×H/2^r×W/2^r) and the domain logits
    /// (N×c_dim). The input must be image_size×image_size, as for the reference's `view`.
    public func starGANHeads(_ image: Tensor, context: ForwardContext) throws -> (source: Tensor, classes: Tensor) {
        let (source, classes) = try heads(Variable(image), ForwardPass(context))
        return (source.data, classes.data)
    }

    /// The differentiable forward of training (the source head for StarGAN).
    public func forward(_ image: Variable, context: TrainingContext) throws -> Variable {
        try forward(image, ForwardPass(context))
    }

    private func forward(_ image: Variable, _ pass: ForwardPass) throws -> Variable {
        try checkInput(image.data)
        return try root.forward(image, pass)
    }

    /// StarGAN's two heads, differentiable.
    public func starGANHeads(_ image: Variable, context: TrainingContext) throws -> (source: Variable, classes: Variable) {
        try heads(image, ForwardPass(context))
    }

    private func heads(_ image: Variable, _ pass: ForwardPass) throws -> (source: Variable, classes: Variable) {
        guard let net = root as? StarGANDiscriminator else {
            throw ModelError(.invalidInput, "\(architecture.className) has one output; only StarGAN's discriminator has a class head")
        }
        try checkInput(image.data)
        return try net.heads(image, pass)
    }

    private func checkInput(_ image: Tensor) throws {
        let a = architecture
        guard image.rank == 4, image.shape[0] >= 1, image.shape[1] == a.inputChannels else {
            throw ModelError(.invalidInput, "\(a.className) expects N×\(a.inputChannels)×H×W input, got \(image.shape)")
        }
        guard a.outputSize(height: image.shape[2], width: image.shape[3]) != nil else {
            throw ModelError(.invalidInput, "\(a.className) (\(a.name)) cannot run on \(image.shape[3])×\(image.shape[2]) images: too small")
        }
    }
}
