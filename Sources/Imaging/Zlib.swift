import CPNG
import Foundation

/// The few zlib calls the PNG chunk code needs (zlib comes with libpng through CPNG).
enum Zlib {
    static func crc(_ parts: Data...) -> UInt32 {
        var crc = crc32(0, nil, 0)
        for part in parts {
            crc = part.withUnsafeBytes { raw in
                crc32(crc, raw.bindMemory(to: Bytef.self).baseAddress, uInt(raw.count))
            }
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    static func compress(_ input: Data) -> Data? {
        var capacity = compressBound(uLong(input.count))
        var output = Data(count: Int(capacity))
        let status = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { src in
                compress2(
                    out.bindMemory(to: Bytef.self).baseAddress, &capacity,
                    src.bindMemory(to: Bytef.self).baseAddress, uLong(src.count), Z_BEST_COMPRESSION)
            }
        }
        guard status == Z_OK else { return nil }
        output.count = Int(capacity)
        return output
    }

    /// Inflates a zlib stream, growing the buffer up to `limit` bytes so a tiny
    /// compressed chunk cannot make us allocate without bound. Nil if damaged or too big.
    static func decompress(_ input: Data, limit: Int) -> Data? {
        var capacity = max(4096, min(limit, input.count * 4))
        while true {
            var output = Data(count: capacity)
            var produced = uLong(capacity)
            var consumed = uLong(input.count)
            let status = output.withUnsafeMutableBytes { out in
                input.withUnsafeBytes { src in
                    uncompress2(
                        out.bindMemory(to: Bytef.self).baseAddress, &produced,
                        src.bindMemory(to: Bytef.self).baseAddress, &consumed)
                }
            }
            if status == Z_OK {
                output.count = Int(produced)
                return output
            }
            // Z_BUF_ERROR with a full buffer means "more room needed"; anything else is damage.
            guard status == Z_BUF_ERROR, Int(produced) == capacity, capacity < limit else { return nil }
            capacity = min(limit, capacity * 4)
        }
    }
}
