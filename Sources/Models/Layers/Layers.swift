import Engine

/// `nn.Conv2d` with zero padding (reflection padding is a separate `Pad2d`, as in the reference).
public final class Conv2d: Module {
    public let geometry: ConvGeometry

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool) throws {
        geometry = ConvGeometry(stride: stride, padding: padding)
        super.init()
        try register("weight", shape: [outChannels, inChannels, kernel, kernel])
        if bias { try register("bias", shape: [outChannels]) }
    }

    public var weight: Tensor { tensor("weight")! }
    public var bias: Tensor? { tensor("bias") }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        try conv2d(x, weight: parameter("weight", pass)!, bias: parameter("bias", pass), geometry: geometry, backend: pass.backend)
    }
}

/// `nn.ConvTranspose2d`; the weight is (in, out, kH, kW) as PyTorch stores it.
public final class ConvTranspose2d: Module {
    public let geometry: ConvGeometry

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int,
                outputPadding: Int = 0, bias: Bool) throws {
        geometry = ConvGeometry(stride: stride, padding: padding, outputPadding: outputPadding)
        super.init()
        try register("weight", shape: [inChannels, outChannels, kernel, kernel])
        if bias { try register("bias", shape: [outChannels]) }
    }

    public var weight: Tensor { tensor("weight")! }
    public var bias: Tensor? { tensor("bias") }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        try convTranspose2d(x, weight: parameter("weight", pass)!, bias: parameter("bias", pass), geometry: geometry,
                            backend: pass.backend)
    }
}

/// `nn.Linear` on N×in rows (CUT's PatchSampleF heads).
public final class Linear: Module {
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) throws {
        super.init()
        try register("weight", shape: [outFeatures, inFeatures])
        if bias { try register("bias", shape: [outFeatures]) }
    }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        try linear(x, weight: parameter("weight", pass)!, bias: parameter("bias", pass))
    }
}

/// `nn.ReflectionPad2d` / `nn.ReplicationPad2d` / `nn.ZeroPad2d`.
public final class Pad2d: Module {
    public let amount: Int
    public let mode: PaddingMode

    public init(_ amount: Int, mode: PaddingMode) {
        self.amount = amount
        self.mode = mode
    }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        try pad2d(x, top: amount, bottom: amount, left: amount, right: amount, mode: mode)
    }
}

/// `nn.BatchNorm2d` and `nn.InstanceNorm2d` (eps 1e-5).
public final class Norm2d: Module {
    public enum Kind: Equatable, Sendable {
        /// Affine, with running statistics; uses batch statistics unless the context asks for
        /// running ones.
        case batch
        /// Per-image statistics always. `affine` adds weight/bias; `tracksRunningStats` declares
        /// the running buffers StarGAN's checkpoints carry (they never affect the output here,
        /// as in StarGAN's own test, which never calls eval()).
        case instance(affine: Bool, tracksRunningStats: Bool)
    }

    public let kind: Kind
    public let channels: Int

    public init(_ kind: Kind, channels: Int) throws {
        self.kind = kind
        self.channels = channels
        super.init()
        let affine: Bool, running: Bool
        switch kind {
        case .batch: (affine, running) = (true, true)
        case .instance(let a, let r): (affine, running) = (a, r)
        }
        if affine {
            try register("weight", shape: [channels])
            try register("bias", shape: [channels])
            setTensor("weight", try Tensor(shape: [channels], repeating: 1))
        }
        if running {
            try register("running_mean", shape: [channels], buffer: true)
            try register("running_var", shape: [channels], buffer: true)
            try register("num_batches_tracked", shape: [], buffer: true, optional: true)
            setTensor("running_var", try Tensor(shape: [channels], repeating: 1))
        }
    }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        try forward(x, pass, activation: nil)
    }

    /// The norm, then `activation` if given (`Sequential` passes the layer after it), written into
    /// `output` where nothing is recorded (see `reusableStorage`). In training (PyTorch's `train()`)
    /// layers with running buffers fold the batch's mean and *unbiased* variance into them with
    /// the pass's momentum.
    func forward(_ x: Variable, _ pass: ForwardPass, activation: Activation?, into output: Tensor? = nil) throws -> Variable {
        let statistics: NormStatistics
        switch (kind, pass.batchStatistics) {
        case (.batch, .running):
            statistics = .running(mean: tensor("running_mean")!, variance: tensor("running_var")!)
        case (.batch, .batch):
            if let shard = pass.shard, let sum = shard.sum {
                statistics = .synchronized(BatchReduction(sum: sum, total: shard.total, weight: Double(x.data.shape[0]) / Double(max(1, shard.total))))
            } else {
                statistics = .perBatch
            }
        case (.batch, .perImage), (.instance, _): statistics = .perInstance
        }
        // Read before `output`, which may be x's own storage, is written.
        let (n, c, h, w) = x.data.nchw
        let (y, stats) = try normalize(x, statistics: statistics, weight: parameter("weight", pass),
                                       bias: parameter("bias", pass), activation: activation, into: output)
        let perInstance: Bool, items: Int
        switch statistics {
        case .running: return y
        case .perBatch: (perInstance, items) = (false, n)
        case .synchronized(let r): (perInstance, items) = (false, r.total)
        case .perInstance: (perInstance, items) = (true, 1)
        }
        if let momentum = pass.runningStatisticsMomentum,
           let runningMean = tensor("running_mean"), let runningVar = tensor("running_var") {
            let count = Double(items * h * w)
            let correction = count > 1 ? count / (count - 1) : 1
            // InstanceNorm with running stats averages its per-image statistics over the batch
            // (a rank of a data-parallel job: over the global batch, summed across the ranks).
            let images = perInstance ? n : 1
            var means = [Double](repeating: 0, count: c), variances = means
            for ch in 0..<c {
                for b in 0..<images {
                    means[ch] += Double(stats.mean[b * c + ch])
                    variances[ch] += Double(stats.variance[b * c + ch]) * correction
                }
            }
            var divisor = Double(images)
            if perInstance, let shard = pass.shard, let sum = shard.sum {
                let total = try sum(means + variances)
                (means, variances, divisor) = (Array(total[..<c]), Array(total[c...]), Double(shard.total))
            }
            let m = Double(momentum)
            runningMean.withUnsafeMutableBufferPointer { rm in
                runningVar.withUnsafeMutableBufferPointer { rv in
                    for ch in 0..<c {
                        rm[ch] = Float((1 - m) * Double(rm[ch]) + m * means[ch] / divisor)
                        rv[ch] = Float((1 - m) * Double(rv[ch]) + m * variances[ch] / divisor)
                    }
                }
            }
            tensor("num_batches_tracked")?.withUnsafeMutableBufferPointer { $0[0] += 1 }
        }
        return y
    }
}

/// `nn.ReLU`, `nn.LeakyReLU`, `nn.Tanh`.
public final class ActivationLayer: Module {
    public let activation: Activation

    public init(_ activation: Activation) { self.activation = activation }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable { try activation(x) }
}

/// `nn.Dropout(0.5)`: identity unless the context enables stochastic dropout.
public final class DropoutLayer: Module {
    public let probability: Float

    public init(_ probability: Float = 0.5) { self.probability = probability }

    public override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        guard let random = pass.dropout else { return x }
        guard let shard = pass.shard, x.data.rank == 4 || x.data.rank == 2 else { return try dropout(x, probability: probability, random: random) }
        // The global batch's draws in order: those of the items before this rank's, ours, the rest.
        let n = x.data.shape[0], perItem = x.data.count / max(n, 1)
        guard shard.offset >= 0, shard.offset + n <= shard.total else {
            throw EngineError(.shapeMismatch, "dropout: a batch of \(n) at item \(shard.offset) does not fit the global batch of \(shard.total)")
        }
        return try dropout(x, probability: probability, random: random,
                           skipping: (shard.offset * perItem, (shard.total - shard.offset - n) * perItem))
    }
}
