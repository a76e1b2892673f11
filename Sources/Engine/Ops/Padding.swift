/// How a padded border is filled, as in PyTorch's ReflectionPad2d / ReplicationPad2d / zero padding.
public enum PaddingMode: String, Sendable {
    case zero, reflect, replicate
}

/// Index into a row of length `n` for position `i` (which may lie outside 0..<n) under `mode`;
/// nil means "zero".
@inline(__always)
public func paddedIndex(_ i: Int, _ n: Int, _ mode: PaddingMode) -> Int? {
    if i >= 0 && i < n { return i }
    switch mode {
    case .zero: return nil
    case .replicate: return i < 0 ? 0 : n - 1
    case .reflect: return i < 0 ? -i : 2 * (n - 1) - i
    }
}

/// Pads the last two dimensions of an NCHW tensor.
public func pad2d(_ x: Tensor, top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode) throws -> Tensor {
    let (n, c, h, w) = x.nchw
    if mode == .reflect && (top >= h || bottom >= h || left >= w || right >= w) {
        throw EngineError(.shapeMismatch, "reflection padding \(max(top, bottom, left, right)) needs an input larger than \(h)×\(w)")
    }
    if mode == .replicate && (h == 0 || w == 0) {
        throw EngineError(.shapeMismatch, "cannot replicate-pad an empty \(h)×\(w) input")
    }
    let oh = h + top + bottom, ow = w + left + right
    let y = try Tensor(uninitialized: [n, c, oh, ow])
    let xp = x.pointer, yp = y.mutablePointer
    let columns = (0..<ow).map { paddedIndex($0 - left, w, mode) }
    parallelFor(n * c, elementsPerItem: oh * ow) { plane in
        let src = xp + plane * h * w, dst = yp + plane * oh * ow
        for oy in 0..<oh {
            let row = dst + oy * ow
            guard let iy = paddedIndex(oy - top, h, mode) else {
                row.initialize(repeating: 0, count: ow)
                continue
            }
            let srcRow = src + iy * w
            (row + left).update(from: srcRow, count: w)
            for ox in 0..<left { row[ox] = columns[ox].map { srcRow[$0] } ?? 0 }
            for ox in (left + w)..<ow { row[ox] = columns[ox].map { srcRow[$0] } ?? 0 }
        }
    }
    return y
}

/// Crops the last two dimensions to `height`×`width` starting at (`top`, `left`).
public func crop2d(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) throws(EngineError) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(top >= 0 && left >= 0 && top + height <= h && left + width <= w, "crop outside \(h)×\(w)")
    let y = try Tensor(uninitialized: [n, c, height, width])
    let xp = x.pointer, yp = y.mutablePointer
    for plane in 0..<(n * c) {
        for r in 0..<height {
            (yp + (plane * height + r) * width).update(from: xp + (plane * h + top + r) * w + left, count: width)
        }
    }
    return y
}

/// Gradient of `pad2d`: every padded position adds its gradient to the source pixel it copied
/// (reflected and replicated borders fold back onto the image; zero borders drop out).
public func pad2dBackward(_ gradOutput: Tensor, inputShape: [Int], top: Int, left: Int, mode: PaddingMode) throws -> Tensor {
    let (h, w) = (inputShape[2], inputShape[3])
    let (oh, ow) = (gradOutput.shape[2], gradOutput.shape[3])
    let gx = try Tensor(zeros: inputShape)
    let gp = gradOutput.pointer, xp = gx.mutablePointer
    let columns = (0..<ow).map { paddedIndex($0 - left, w, mode) }
    parallelFor(inputShape[0] * inputShape[1], elementsPerItem: oh * ow) { plane in
        let src = gp + plane * oh * ow, dst = xp + plane * h * w
        for oy in 0..<oh {
            guard let iy = paddedIndex(oy - top, h, mode) else { continue }
            let row = src + oy * ow, dstRow = dst + iy * w
            for ox in 0..<ow { if let ix = columns[ox] { dstRow[ix] += row[ox] } }
        }
    }
    return gx
}

/// Differentiable `pad2d`.
public func pad2d(_ x: Variable, top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode) throws -> Variable {
    let y = try pad2d(x.data, top: top, bottom: bottom, left: left, right: right, mode: mode)
    let shape = x.shape
    return record("pad2d", y, [x]) {
        { g in [try pad2dBackward(g, inputShape: shape, top: top, left: left, mode: mode)] }
    }
}
