/// Reads tensor elements out of raw storage bytes and converts them to `Float`.
///
/// Conversions match torch's `.float()`: float16 and bfloat16 widen exactly,
/// float64 and the integer types round to nearest-even, bool becomes 0 or 1.
enum TensorConversion {
    /// Caps the total number of elements produced from one file.
    ///
    /// Strides may legitimately alias (expanded or shared tensors), so a small
    /// file can describe a huge tensor; every stored element takes at least one
    /// byte, so a few elements per file byte covers any real checkpoint.
    struct Budget {
        private(set) var remaining: Int

        init(fileSize: Int) {
            remaining = (Checked.multiply(fileSize, 4) ?? Int.max / 2) + (1 << 20)
        }

        mutating func spend(_ count: Int, key: String) throws(ParseError) {
            guard count <= remaining else {
                throw .corrupt("tensor '\(key)' would expand to \(count) elements, far more than the file stores")
            }
            remaining -= count
        }
    }

    /// Gathers the elements of a (possibly strided) view of `storage`.
    ///
    /// - Parameters:
    ///   - storage: the storage bytes; element `i` starts at byte `i * dtype.byteSize`.
    ///   - bigEndian: whether multi-byte elements are stored big-endian.
    static func gather(storage: UnsafeRawBufferPointer, dtype: TensorDType, bigEndian: Bool,
                       offset: Int, shape: [Int], stride: [Int], key: String,
                       budget: inout Budget) throws(ParseError) -> [Float] {
        guard let count = Checked.product(shape) else {
            throw .corrupt("tensor '\(key)' has an impossible shape \(shape)")
        }
        try budget.spend(count, key: key)
        if count == 0 { return [] }

        // Every addressed element must lie inside the storage: check the largest index.
        let available = storage.count / dtype.byteSize
        var last = offset
        for (n, s) in zip(shape, stride) {
            guard let step = Checked.multiply(n - 1, s), let sum = Checked.add(last, step) else {
                throw .corrupt("tensor '\(key)' has an impossible size \(shape) / stride \(stride)")
            }
            last = sum
        }
        guard last < available else {
            throw .corrupt("tensor '\(key)' (offset \(offset), size \(shape), stride \(stride)) reaches element \(last) of a storage holding only \(available)")
        }

        if isContiguous(shape: shape, stride: stride) {
            return convert(storage, dtype: dtype, bigEndian: bigEndian, count: count) { offset + $0 }
        }
        var indices = [Int](repeating: 0, count: count)
        var position = [Int](repeating: 0, count: shape.count)
        var current = offset
        for i in 0..<count {
            indices[i] = current
            // Odometer step over the dimensions, innermost first.
            var d = shape.count - 1
            while d >= 0 {
                // Wrapping: a size-1 dimension may carry any stride, and stepping past
                // the last element is undone before it is ever used.
                position[d] += 1
                current &+= stride[d]
                if position[d] < shape[d] { break }
                current &-= stride[d] &* shape[d]
                position[d] = 0
                d -= 1
            }
        }
        return convert(storage, dtype: dtype, bigEndian: bigEndian, count: count) { indices[$0] }
    }

    static func isContiguous(shape: [Int], stride: [Int]) -> Bool {
        var expected = 1
        for (n, s) in zip(shape, stride).reversed() {
            if n != 1 && s != expected { return false }
            expected *= n
        }
        return true
    }

    @inline(__always)
    private static func convert(_ raw: UnsafeRawBufferPointer, dtype: TensorDType, bigEndian: Bool,
                                count: Int, index: (Int) -> Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .float32:
                for i in 0..<count { out[i] = Float(bitPattern: load(raw, index(i), UInt32.self, bigEndian)) }
            case .float16:
                for i in 0..<count { out[i] = halfToFloat(load(raw, index(i), UInt16.self, bigEndian)) }
            case .bfloat16:
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(load(raw, index(i), UInt16.self, bigEndian)) << 16) }
            case .float64:
                for i in 0..<count { out[i] = Float(Double(bitPattern: load(raw, index(i), UInt64.self, bigEndian))) }
            case .int64:
                for i in 0..<count { out[i] = Float(Int64(bitPattern: load(raw, index(i), UInt64.self, bigEndian))) }
            case .int32:
                for i in 0..<count { out[i] = Float(Int32(bitPattern: load(raw, index(i), UInt32.self, bigEndian))) }
            case .int16:
                for i in 0..<count { out[i] = Float(Int16(bitPattern: load(raw, index(i), UInt16.self, bigEndian))) }
            case .int8:
                for i in 0..<count { out[i] = Float(Int8(bitPattern: raw[index(i)])) }
            case .uint8:
                for i in 0..<count { out[i] = Float(raw[index(i)]) }
            case .bool:
                for i in 0..<count { out[i] = raw[index(i)] != 0 ? 1 : 0 }
            }
            initialized = count
        }
    }

    @inline(__always)
    private static func load<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ element: Int,
                                                   _ type: T.Type, _ bigEndian: Bool) -> T {
        let value = raw.loadUnaligned(fromByteOffset: element * MemoryLayout<T>.size, as: T.self)
        return bigEndian ? T(bigEndian: value) : T(littleEndian: value)
    }

    /// IEEE half to single precision; exact for every input, NaN payloads kept as torch does.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa × 2⁻²⁴ is exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }
}
