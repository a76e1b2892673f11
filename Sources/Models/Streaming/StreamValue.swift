import Engine

/// A whole-image activation (1×C×H×W) that streamed inference reads a band of rows at a time.
///
/// Only convolutions write a new `ActivationStore`; what lies between two of them — a
/// normalisation with known statistics, an activation, a residual sum, a skip concatenation,
/// padding — is applied to each band as it is read, so it costs no pass over the image.
protocol StreamValue: AnyObject {
    var channels: Int { get }
    var height: Int { get }
    var width: Int { get }

    /// Rows `range` (within 0..<height) as a fresh 1×C×n×W tensor the caller may change.
    func rows(_ range: Range<Int>) throws -> Tensor
}

extension StreamValue {
    /// The value with `activation` applied on read.
    func activated(_ activation: Activation) -> StreamValue {
        if let p = self as? PointwiseValue, p.activation == nil {
            return PointwiseValue(p.source, scale: p.scale, shift: p.shift, activation: activation)
        }
        return PointwiseValue(self, scale: nil, shift: nil, activation: activation)
    }
}

/// A stored activation, as written.
final class StoredValue: StreamValue {
    let channels: Int, height: Int, width: Int
    let store: ActivationStore

    init(_ store: ActivationStore) {
        self.store = store
        (channels, height, width) = (store.channels, store.height, store.width)
    }

    func rows(_ range: Range<Int>) throws -> Tensor { try store.read(range) }
}

/// An image already in memory (the network's input).
final class TensorValue: StreamValue {
    let channels: Int, height: Int, width: Int
    let tensor: Tensor

    init(_ tensor: Tensor) {
        self.tensor = tensor
        let (_, c, h, w) = tensor.nchw
        (channels, height, width) = (c, h, w)
    }

    func rows(_ range: Range<Int>) throws -> Tensor { try crop2d(tensor, top: range.lowerBound, left: 0, height: range.count, width: width) }
}

/// `activation(x·scale + shift)` per channel: a normalisation folded to one multiply-add (as
/// `normalize` folds it), then the activation, if any.
final class PointwiseValue: StreamValue {
    let channels: Int, height: Int, width: Int
    let source: StreamValue
    let scale: [Float]?, shift: [Float]?
    let activation: Activation?

    init(_ source: StreamValue, scale: [Float]?, shift: [Float]?, activation: Activation?) {
        (self.source, self.scale, self.shift, self.activation) = (source, scale, shift, activation)
        (channels, height, width) = (source.channels, source.height, source.width)
    }

    func rows(_ range: Range<Int>) throws -> Tensor {
        let t = try source.rows(range)
        let plane = range.count * width
        t.withUnsafeMutableBufferPointer { p in
            for c in 0..<channels {
                let a = scale?[c] ?? 1, b = shift?[c] ?? 0
                let base = p.baseAddress! + c * plane
                if scale != nil { for i in 0..<plane { base[i] = base[i] * a + b } }
            }
        }
        if let activation { _ = try activation(t, into: t) }
        return t
    }
}

/// `a + b` (a residual connection).
final class SumValue: StreamValue {
    let channels: Int, height: Int, width: Int
    let a: StreamValue, b: StreamValue

    init(_ a: StreamValue, _ b: StreamValue) {
        (self.a, self.b) = (a, b)
        (channels, height, width) = (a.channels, a.height, a.width)
    }

    func rows(_ range: Range<Int>) throws -> Tensor {
        let x = try a.rows(range)
        return try add(x, try b.rows(range), into: x)
    }
}

/// `cat([a, b], dim=1)` (U-Net's skip).
final class ConcatValue: StreamValue {
    let channels: Int, height: Int, width: Int
    let a: StreamValue, b: StreamValue

    init(_ a: StreamValue, _ b: StreamValue) {
        (self.a, self.b) = (a, b)
        (channels, height, width) = (a.channels + b.channels, a.height, a.width)
    }

    func rows(_ range: Range<Int>) throws -> Tensor { try concatChannels([a.rows(range), b.rows(range)]) }
}

/// StarGAN's label planes: one constant plane per condition value.
final class ConstantValue: StreamValue {
    let channels: Int, height: Int, width: Int
    let values: [Float]

    init(_ values: [Float], height: Int, width: Int) {
        self.values = values
        (channels, self.height, self.width) = (values.count, height, width)
    }

    func rows(_ range: Range<Int>) throws -> Tensor {
        let t = try Tensor(uninitialized: [1, channels, range.count, width])
        let plane = range.count * width
        t.withUnsafeMutableBufferPointer { p in
            for (c, v) in values.enumerated() { (p.baseAddress! + c * plane).update(repeating: v, count: plane) }
        }
        return t
    }
}

/// `Pad2d`: rows and columns outside the source are reflected, replicated or zero, by the same
/// index rule as `pad2d`, so a band at the image's edge sees what the whole image would.
final class PaddedValue: StreamValue {
    let channels: Int, height: Int, width: Int
    let source: StreamValue, amount: Int, mode: PaddingMode

    init(_ source: StreamValue, amount: Int, mode: PaddingMode) {
        (self.source, self.amount, self.mode) = (source, amount, mode)
        (channels, height, width) = (source.channels, source.height + 2 * amount, source.width + 2 * amount)
    }

    func rows(_ range: Range<Int>) throws -> Tensor {
        let sh = source.height, sw = source.width, p = amount, w = width, c = channels
        let mapped = range.map { paddedIndex($0 - p, sh, mode) }
        let present = mapped.compactMap { $0 }
        let out = try Tensor(zeros: [1, c, range.count, w])
        guard let lo = present.min(), let hi = present.max() else { return out }
        let inner = try source.rows(lo..<(hi + 1))
        let columns = (0..<w).map { paddedIndex($0 - p, sw, mode) }
        let n = range.count, m = hi + 1 - lo
        inner.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for ch in 0..<c {
                    for (y, row) in mapped.enumerated() {
                        guard let row else { continue }
                        let s = src.baseAddress! + (ch * m + row - lo) * sw, d = dst.baseAddress! + (ch * n + y) * w
                        for (x, col) in columns.enumerated() { if let col { d[x] = s[col] } }
                    }
                }
            }
        }
        return out
    }
}
