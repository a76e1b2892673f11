/// Batches: the one place N items (each 1×…) become an N×… tensor and one item is taken back
/// out, for training's data loader and sample grids and for conversion's batched inference.
extension Tensor {
    /// `parts` (each of one shape, 1×… or N×…) stacked along the first dimension: the
    /// reference's default collate.
    public init(stacking parts: [Tensor]) throws(EngineError) {
        guard let first = parts.first else { throw EngineError(.shapeMismatch, "nothing to stack into a batch") }
        guard parts.count > 1 else {
            self = first
            return
        }
        let rest = Array(first.shape.dropFirst())
        guard let odd = parts.first(where: { Array($0.shape.dropFirst()) != rest }) else {
            let total = parts.reduce(0) { $0 + $1.shape[0] }
            self = try Tensor(uninitialized: [total] + rest)
            withUnsafeMutableBufferPointer { out in
                var offset = 0
                for part in parts {
                    part.withUnsafeBufferPointer { (out.baseAddress! + offset).update(from: $0.baseAddress!, count: part.count) }
                    offset += part.count
                }
            }
            return
        }
        throw EngineError(.shapeMismatch, "cannot stack \(first.shape) and \(odd.shape) into one batch")
    }

    /// Item `i` of an N×… batch, 1×… (the tensor itself when it holds one item).
    public func image(_ i: Int) throws(EngineError) -> Tensor {
        guard rank >= 1, (0..<shape[0]).contains(i) else { throw EngineError(.shapeMismatch, "no item \(i) in a batch of shape \(shape)") }
        if shape[0] == 1 { return self }
        let per = count / shape[0]
        let one = try Tensor(uninitialized: [1] + shape.dropFirst())
        one.withUnsafeMutableBufferPointer { dst in
            withUnsafeBufferPointer { dst.baseAddress!.update(from: $0.baseAddress! + i * per, count: per) }
        }
        return one
    }
}
