/// A minimal read-only ZIP reader for `torch.save` archives.
///
/// It reads the central directory (with zip64 support), and finds each entry's
/// data through its local header. Only stored (uncompressed) entries can be
/// read, which is all torch writes. Every offset and size is checked against
/// the buffer, so a damaged archive produces a `ParseError`, never a bad access.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let flags: UInt16
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let bytes: UnsafeRawBufferPointer
    private(set) var entries: [Entry] = []
    private var byName: [String: Int] = [:]

    private static let eocdSignature: UInt64 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt64 = 0x0706_4B50
    private static let zip64EOCDSignature: UInt64 = 0x0606_4B50
    private static let centralSignature: UInt32 = 0x0201_4B50
    private static let localSignature: UInt64 = 0x0403_4B50

    init(_ bytes: UnsafeRawBufferPointer) throws(ParseError) {
        self.bytes = bytes
        let eocd = try Self.findEndOfCentralDirectory(bytes)
        var entryCount = Int(bytes.littleEndian(at: eocd + 10, width: 2)!)
        var cdSize = Int(bytes.littleEndian(at: eocd + 12, width: 4)!)
        var cdOffset = Int(bytes.littleEndian(at: eocd + 16, width: 4)!)

        // A zip64 locator sits right before the classic record when any field overflowed.
        if eocd >= 20, bytes.littleEndian(at: eocd - 20, width: 4) == Self.zip64LocatorSignature {
            let recordOffset = bytes.littleEndian(at: eocd - 12, width: 8)!
            guard recordOffset <= UInt64(eocd - 20), let record = Int(exactly: recordOffset),
                  bytes.littleEndian(at: record, width: 4) == Self.zip64EOCDSignature,
                  let count = bytes.littleEndian(at: record + 32, width: 8),
                  let size = bytes.littleEndian(at: record + 40, width: 8),
                  let offset = bytes.littleEndian(at: record + 48, width: 8) else {
                throw .corrupt("the zip64 end-of-central-directory record is missing or damaged")
            }
            guard let c = Int(exactly: count), let s = Int(exactly: size), let o = Int(exactly: offset) else {
                throw .corrupt("zip64 directory fields are out of range")
            }
            (entryCount, cdSize, cdOffset) = (c, s, o)
        }

        guard cdOffset <= bytes.count, cdSize <= bytes.count - cdOffset else {
            throw ParseError(.truncated, "file is truncated or corrupt: the zip central directory (offset \(cdOffset), \(cdSize) bytes) lies beyond the end of the \(bytes.count)-byte file")
        }
        // Each central record takes at least 46 bytes, which bounds the entry count.
        guard entryCount <= cdSize / 46 else {
            throw .corrupt("zip directory claims \(entryCount) entries but is only \(cdSize) bytes")
        }

        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[cdOffset..<(cdOffset + cdSize)]),
                                what: "the zip central directory")
        for _ in 0..<entryCount {
            let entry = try Self.readCentralEntry(&reader)
            if byName[entry.name] == nil { byName[entry.name] = entries.count }
            entries.append(entry)
        }
    }

    func entry(named name: String) -> Entry? {
        byName[name].map { entries[$0] }
    }

    /// The bytes of a stored entry, without copying.
    func data(of entry: Entry) throws(ParseError) -> UnsafeRawBufferPointer {
        guard entry.flags & 1 == 0 else {
            throw ParseError(.unsupported, "zip entry '\(entry.name)' is encrypted")
        }
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw .corrupt("stored zip entry '\(entry.name)' has different compressed and uncompressed sizes")
            }
        case 8:
            throw ParseError(.unsupported, "zip entry '\(entry.name)' is deflate-compressed; torch.save never compresses, so the archive was re-zipped by another tool: re-save it with torch.save, or re-zip it without compression (zip -0)")
        default:
            throw ParseError(.unsupported, "zip entry '\(entry.name)' uses compression method \(entry.method); only uncompressed entries are supported")
        }
        let header = entry.localHeaderOffset
        guard bytes.littleEndian(at: header, width: 4) == Self.localSignature,
              let nameLength = bytes.littleEndian(at: header + 26, width: 2),
              let extraLength = bytes.littleEndian(at: header + 28, width: 2) else {
            throw .corrupt("zip entry '\(entry.name)' has no valid local header at offset \(header)")
        }
        let start = header + 30 + Int(nameLength) + Int(extraLength)
        guard start <= bytes.count, entry.compressedSize <= bytes.count - start else {
            throw ParseError(.truncated, "file is truncated: zip entry '\(entry.name)' (\(entry.compressedSize) bytes at offset \(start)) runs past the end of the \(bytes.count)-byte file")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + entry.compressedSize)])
    }

    private static func findEndOfCentralDirectory(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> Int {
        // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
        if bytes.count >= 22 {
            let lowest = max(0, bytes.count - 22 - 0xFFFF)
            var p = bytes.count - 22
            while p >= lowest {
                if bytes.littleEndian(at: p, width: 4) == eocdSignature,
                   let commentLength = bytes.littleEndian(at: p + 20, width: 2),
                   p + 22 + Int(commentLength) <= bytes.count {
                    return p
                }
                p -= 1
            }
        }
        throw ParseError(.truncated, "file is truncated: this zip archive has no end-of-central-directory record (zip files are indexed at their end, so the end of the file is missing)")
    }

    private static func readCentralEntry(_ r: inout ByteReader) throws(ParseError) -> Entry {
        guard try r.u32() == centralSignature else { throw .corrupt("zip central directory entry has a bad signature") }
        try r.skip(4)                       // versions
        let flags = try r.u16()
        let method = try r.u16()
        try r.skip(8)                       // time, date, crc
        var compressed = UInt64(try r.u32())
        var uncompressed = UInt64(try r.u32())
        let nameLength = Int(try r.u16())
        let extraLength = Int(try r.u16())
        let commentLength = Int(try r.u16())
        try r.skip(8)                       // disk, internal and external attributes
        var localOffset = UInt64(try r.u32())
        let name = decodeText(try r.slice(nameLength))
        var extra = ByteReader(try r.slice(extraLength), what: "a zip extra field")
        try r.skip(commentLength)

        // The zip64 extra field holds, in order, only the fields whose 32-bit value is 0xFFFFFFFF.
        while extra.remaining >= 4 {
            let id = try extra.u16()
            let size = Int(try extra.u16())
            var field = ByteReader(try extra.slice(size), what: "the zip64 extra field of '\(name)'")
            guard id == 1 else { continue }
            if uncompressed == 0xFFFF_FFFF { uncompressed = try field.u64() }
            if compressed == 0xFFFF_FFFF { compressed = try field.u64() }
            if localOffset == 0xFFFF_FFFF { localOffset = try field.u64() }
        }
        guard let c = Int(exactly: compressed), let u = Int(exactly: uncompressed),
              let o = Int(exactly: localOffset) else {
            throw .corrupt("zip entry '\(name)' has out-of-range sizes")
        }
        return Entry(name: name, method: method, flags: flags, compressedSize: c,
                     uncompressedSize: u, localHeaderOffset: o)
    }
}
