import Foundation

/// Owns one 64-byte-aligned float32 buffer. Aligned so oneDNN can use it without copies.
///
/// Its memory is reachable only through `Tensor`: reads through `withUnsafeBufferPointer`, writes
/// through `withUnsafeMutableBufferPointer` (or, inside Engine, `mutablePointer`), and every write
/// bumps `version`. Training updates weights in place; a write that skipped the bump would leave
/// the oneDNN weight cache serving the old values.
public final class TensorStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Bumped by every mutation, so caches derived from the contents (e.g. oneDNN-layout
    /// weights) know when to refresh.
    public private(set) var version: Int = 0

    init(count: Int) throws(EngineError) {
        self.count = count
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        if overflow { throw .outOfMemory(Int.max) }
        let raw = try BufferPool.shared.allocate(bytes)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func bumpVersion() { version &+= 1 }

    deinit { BufferPool.shared.release(UnsafeMutableRawPointer(pointer), bytes: max(count, 1) * MemoryLayout<Float>.stride) }
}

/// A dense float32 tensor in row-major order; 4-D tensors are NCHW, as in PyTorch.
///
/// `Tensor` is a handle to its storage: ops never mutate their inputs and always return
/// fresh tensors, so sharing a storage between handles is safe. Code that fills a tensor it
/// just created uses `withUnsafeMutableBufferPointer`.
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    public private(set) var storage: TensorStorage

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) throws(EngineError) {
        try self.init(uninitialized: shape)
        storage.pointer.initialize(repeating: 0, count: storage.count)
    }

    /// A tensor whose contents the caller fills before reading. Throws `outOfMemory` when the
    /// memory cannot be had (or the element count overflows), `shapeMismatch` for a negative size.
    public init(uninitialized shape: [Int]) throws(EngineError) {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw EngineError(.shapeMismatch, "negative dimension in \(shape)") }
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { throw .outOfMemory(Int.max) }
            count = p
        }
        self.shape = shape
        storage = try TensorStorage(count: count)
    }

    public init(shape: [Int], repeating value: Float) throws(EngineError) {
        try self.init(uninitialized: shape)
        storage.pointer.initialize(repeating: value, count: storage.count)
    }

    public init(shape: [Int], values: [Float]) throws(EngineError) {
        try self.init(uninitialized: shape)
        guard count == values.count else {
            throw EngineError(.shapeMismatch, "shape \(shape) needs \(count) values, got \(values.count)")
        }
        if !values.isEmpty { values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) } }
    }

    /// Shares `other`'s storage under a new shape with the same element count.
    public init(reshaping other: Tensor, to shape: [Int]) {
        precondition(shape.reduce(1, *) == other.count, "cannot reshape \(other.shape) to \(shape)")
        self.shape = shape
        storage = other.storage
    }

    public var count: Int { storage.count }

    /// Read-only start of the elements, for Engine's kernels.
    var pointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    /// Start of the elements for a kernel that writes this tensor (its output, or an intermediate
    /// it overwrites). Bumps the version like every mutation.
    var mutablePointer: UnsafeMutablePointer<Float> {
        storage.bumpVersion()
        return storage.pointer
    }
    public var rank: Int { shape.count }
    public var values: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// N, C, H, W of a 4-D tensor.
    public var nchw: (n: Int, c: Int, h: Int, w: Int) {
        precondition(shape.count == 4, "expected an NCHW tensor, got shape \(shape)")
        return (shape[0], shape[1], shape[2], shape[3])
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    public func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        defer { storage.bumpVersion() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// True when no other handle shares this storage, so an op may write its result over it.
    public mutating func isUniquelyReferenced() -> Bool { isKnownUniquelyReferenced(&storage) }

    /// A deep copy with its own storage.
    public func copy() throws(EngineError) -> Tensor {
        let out = try Tensor(uninitialized: shape)
        out.mutablePointer.update(from: storage.pointer, count: count)
        return out
    }

    /// Overwrites every element with `other`'s (same element count), bumping the version: the
    /// one way to change a tensor's values in place, e.g. a weight after an optimizer step.
    public func assign(from other: Tensor) {
        precondition(other.count == count, "assigning \(other.count) elements to a tensor of \(count)")
        mutablePointer.update(from: other.storage.pointer, count: count)
    }

    /// Largest absolute element-wise difference; shapes must match.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shape mismatch \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(storage.pointer[i] - other.storage.pointer[i])) }
        return m
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor\(shape)" }
}
