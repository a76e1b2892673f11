import Foundation

/// A bounds-checked cursor over raw bytes.
///
/// All parsers read through this so that a hostile length or offset turns into
/// a `ParseError` rather than an out-of-bounds access. Multi-byte reads are
/// unaligned-safe little-endian unless stated otherwise.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    /// Used in truncation messages ("pickle", "zip central directory", …).
    let what: String

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0, what: String) {
        self.bytes = bytes
        self.position = position
        self.what = what
    }

    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position >= bytes.count }

    mutating func seek(to offset: Int) throws(ParseError) {
        guard offset >= 0, offset <= bytes.count else { throw .truncated(what) }
        position = offset
    }

    mutating func skip(_ count: Int) throws(ParseError) {
        guard count >= 0, count <= remaining else { throw .truncated(what) }
        position += count
    }

    mutating func u8() throws(ParseError) -> UInt8 {
        guard position < bytes.count else { throw .truncated(what) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws(ParseError) -> UInt16 { UInt16(truncatingIfNeeded: try uint(2)) }
    mutating func u32() throws(ParseError) -> UInt32 { UInt32(truncatingIfNeeded: try uint(4)) }
    mutating func u64() throws(ParseError) -> UInt64 { try uint(8) }
    mutating func i32() throws(ParseError) -> Int32 { Int32(bitPattern: try u32()) }
    mutating func i64() throws(ParseError) -> Int64 { Int64(bitPattern: try u64()) }

    /// Little-endian unsigned integer of `width` (≤ 8) bytes.
    mutating func uint(_ width: Int) throws(ParseError) -> UInt64 {
        guard width <= remaining else { throw .truncated(what) }
        var value: UInt64 = 0
        for i in 0..<width { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += width
        return value
    }

    /// Big-endian float64 (pickle's BINFLOAT).
    mutating func f64BigEndian() throws(ParseError) -> Double {
        guard 8 <= remaining else { throw .truncated(what) }
        var bits: UInt64 = 0
        for i in 0..<8 { bits = bits << 8 | UInt64(bytes[position + i]) }
        position += 8
        return Double(bitPattern: bits)
    }

    /// The next `count` bytes as a slice of the underlying buffer (no copy).
    mutating func slice(_ count: Int) throws(ParseError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else { throw .truncated(what) }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    /// Bytes up to (not including) the next `\n`, which is consumed.
    mutating func line() throws(ParseError) -> UnsafeRawBufferPointer {
        var end = position
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else { throw .truncated(what) }
        let result = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
        position = end + 1
        return result
    }
}

extension UnsafeRawBufferPointer {
    /// Little-endian unsigned integer at `offset`, or nil if it does not fit.
    func littleEndian(at offset: Int, width: Int) -> UInt64? {
        guard offset >= 0, width >= 0, offset <= count - width else { return nil }
        var value: UInt64 = 0
        for i in 0..<width { value |= UInt64(self[offset + i]) << (8 * UInt64(i)) }
        return value
    }
}

/// Decodes bytes as UTF-8, falling back to Latin-1 so no byte string is rejected.
func decodeText(_ bytes: UnsafeRawBufferPointer) -> String {
    if let s = String(bytes: bytes, encoding: .utf8) { return s }
    return String(bytes.map { Character(Unicode.Scalar($0)) })
}

/// Overflow-checked arithmetic for sizes taken from untrusted files.
enum Checked {
    static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    static func product(_ values: [Int]) -> Int? {
        var result = 1
        for v in values {
            guard let r = multiply(result, v) else { return nil }
            result = r
        }
        return result
    }
}
