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

/// Differentiable `a + b` (residual connections; summing losses): the gradient passes to both.
/// `output` (see `reusableStorage`) takes the sum when nothing is recorded.
public func add(_ a: Variable, _ b: Variable, into output: Tensor? = nil) throws -> Variable {
    let y = try add(a.data, b.data, into: records([a, b]) ? nil : output)
    return record("add", y, [a, b]) { { g in [g, g] } } twin: { { g in [g, g] } }
}

/// Differentiable `x · factor` (loss weights such as λ_L1 or CycleGAN's 0.5).
public func scale(_ x: Variable, by factor: Float) throws -> Variable {
    let y = try scaled(x.data, by: factor)
    return record("scale", y, [x]) { { g in [try scaled(g, by: factor)] } } twin: { { g in [try scale(g, by: factor)] } }
}

func scaled(_ x: Tensor, by factor: Float) throws -> Tensor {
    let y = try Tensor(uninitialized: x.shape)
    let xp = x.pointer, yp = y.mutablePointer
    let chunk = 1 << 14
    parallelFor((x.count + chunk - 1) / chunk, elementsPerItem: chunk) { k in
        for i in (k * chunk)..<min(x.count, (k + 1) * chunk) { yp[i] = xp[i] * factor }
    }
    return y
}

/// Differentiable channel concatenation (UNet skips, the conditional discriminator's cat(A, B)):
/// each part receives its slice of the gradient.
public func concatChannels(_ parts: [Variable]) throws -> Variable {
    let y = try concatChannels(parts.map(\.data))
    let channels = parts.map { $0.shape[1] }
    return record("cat", y, parts) {
        { g in try splitChannels(g, channels).map { $0 } }
    }
}

/// The inverse of `concatChannels`: consecutive channel slices of `x` of the given sizes.
public func splitChannels(_ x: Tensor, _ channels: [Int]) throws -> [Tensor] {
    let (n, c, h, w) = x.nchw
    guard channels.reduce(0, +) == c else {
        throw EngineError(.shapeMismatch, "cannot split \(c) channels into \(channels)")
    }
    var offset = 0
    return try channels.map { pc in
        let part = try Tensor(uninitialized: [n, pc, h, w])
        for b in 0..<n {
            (part.mutablePointer + b * pc * h * w).update(from: x.pointer + (b * c + offset) * h * w, count: pc * h * w)
        }
        offset += pc
        return part
    }
}

/// Differentiable StarGAN label broadcast: the gradient of each label is the sum of its plane's.
public func labelPlanes(_ labels: Variable, height: Int, width: Int) throws -> Variable {
    let y = try labelPlanes(labels.data, height: height, width: width)
    let shape = labels.shape
    return record("label_planes", y, [labels]) {
        { g in
            let gl = try Tensor(uninitialized: shape)
            let plane = height * width
            for i in 0..<gl.count {
                var s = 0.0
                for j in 0..<plane { s += Double(g.pointer[i * plane + j]) }
                gl.mutablePointer[i] = Float(s)
            }
            return [gl]
        }
    }
}

/// Differentiable reshape (PyTorch's `view`): same storage, the gradient reshaped back.
public func reshape(_ x: Variable, to shape: [Int]) throws -> Variable {
    guard shape.reduce(1, *) == x.data.count else {
        throw EngineError(.shapeMismatch, "cannot reshape \(x.shape) to \(shape)")
    }
    let original = x.shape
    return record("reshape", Tensor(reshaping: x.data, to: shape), [x]) { { g in [Tensor(reshaping: g, to: original)] } }
}
