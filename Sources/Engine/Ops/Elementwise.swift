/// `a + b` for tensors of one shape (the residual connection), into `output` (which may be
/// `a` or `b`) or a new tensor.
public func add(_ a: Tensor, _ b: Tensor, into output: Tensor? = nil) throws -> Tensor {
    guard a.shape == b.shape else {
        throw EngineError(.shapeMismatch, "cannot add tensors of shapes \(a.shape) and \(b.shape)")
    }
    let y = try output ?? Tensor(uninitialized: a.shape)
    precondition(y.shape == a.shape, "add output shape \(y.shape) differs from inputs \(a.shape)")
    let ap = a.pointer, bp = b.pointer, yp = y.mutablePointer
    let chunk = 1 << 14
    parallelFor((a.count + chunk - 1) / chunk, elementsPerItem: chunk) { k in
        for i in (k * chunk)..<min(a.count, (k + 1) * chunk) { yp[i] = ap[i] + bp[i] }
    }
    return y
}

/// Concatenates NCHW tensors along the channel axis (`torch.cat(..., dim=1)`).
public func concatChannels(_ parts: [Tensor]) throws -> Tensor {
    guard let first = parts.first else { throw EngineError(.shapeMismatch, "nothing to concatenate") }
    let (n, _, h, w) = first.nchw
    for p in parts where p.rank != 4 || p.shape[0] != n || p.shape[2] != h || p.shape[3] != w {
        throw EngineError(.shapeMismatch, "cannot concatenate \(p.shape) with \(first.shape) along channels: sizes must match except in dimension 1")
    }
    let total = parts.reduce(0) { $0 + $1.shape[1] }
    let y = try Tensor(uninitialized: [n, total, h, w])
    var offset = 0
    for p in parts {
        let pc = p.shape[1], block = pc * h * w
        for b in 0..<n {
            (y.mutablePointer + (b * total + offset) * h * w).update(from: p.pointer + b * block, count: block)
        }
        offset += pc
    }
    return y
}

/// Constant planes: `labels` (N×K) tiled to N×K×H×W, as StarGAN conditions its generator.
public func labelPlanes(_ labels: Tensor, height: Int, width: Int) throws -> Tensor {
    guard labels.rank == 2 else {
        throw EngineError(.shapeMismatch, "labels must be N×K, got \(labels.shape)")
    }
    let (n, k) = (labels.shape[0], labels.shape[1])
    let y = try Tensor(uninitialized: [n, k, height, width])
    for i in 0..<(n * k) {
        (y.mutablePointer + i * height * width).initialize(repeating: labels.pointer[i], count: height * width)
    }
    return y
}
