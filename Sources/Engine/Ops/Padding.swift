/// How a padded border is filled, as in PyTorch's ReflectionPad2d / ReplicationPad2d / zero padding.
public enum PaddingMode: String, Sendable {
    case zero, reflect, replicate
}

/// Index into a row of length `n` for position `i` (which may lie outside 0..<n) under `mode`;
/// nil means "zero".
@inline(__always)
func paddedIndex(_ i: Int, _ n: Int, _ mode: PaddingMode) -> Int? {
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
