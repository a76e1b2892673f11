import Foundation

/// Bounds-checked big/little-endian reads from `Data` at offsets relative to its start,
/// so slices (whose indices do not start at 0) parse the same as whole files.
struct Bytes {
    let data: Data

    init(_ data: Data) { self.data = data }

    var count: Int { data.count }

    subscript(_ offset: Int) -> UInt8 { data[data.startIndex + offset] }

    /// Whether `length` bytes starting at `offset` are inside the data.
    func has(_ offset: Int, _ length: Int) -> Bool {
        offset >= 0 && length >= 0 && offset <= count && length <= count - offset
    }

    func u16be(_ offset: Int) -> Int { Int(self[offset]) << 8 | Int(self[offset + 1]) }

    func u16le(_ offset: Int) -> Int { Int(self[offset + 1]) << 8 | Int(self[offset]) }

    func u32be(_ offset: Int) -> Int {
        Int(self[offset]) << 24 | Int(self[offset + 1]) << 16 | Int(self[offset + 2]) << 8 | Int(self[offset + 3])
    }

    func u32le(_ offset: Int) -> Int {
        Int(self[offset + 3]) << 24 | Int(self[offset + 2]) << 16 | Int(self[offset + 1]) << 8 | Int(self[offset])
    }

    func slice(_ offset: Int, _ length: Int) -> Data {
        data.subdata(in: (data.startIndex + offset)..<(data.startIndex + offset + length))
    }

    func starts(with prefix: [UInt8], at offset: Int = 0) -> Bool {
        guard has(offset, prefix.count) else { return false }
        for (i, byte) in prefix.enumerated() where self[offset + i] != byte { return false }
        return true
    }
}

extension Data {
    mutating func appendBE32(_ value: Int) {
        append(contentsOf: [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
    }

    mutating func appendBE16(_ value: Int) {
        append(contentsOf: [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
    }
}
