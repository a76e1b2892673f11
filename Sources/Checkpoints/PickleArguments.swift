/// Decoding of pickle opcode arguments that are more than a fixed-width integer.
extension Unpickler {
    static func binaryLong(_ r: inout ByteReader, width: Int) throws(ParseError) -> PickleValue {
        let bytes = Array(try r.slice(width))
        if bytes.isEmpty { return .int(0) }
        if bytes.count <= 8 {
            var value: UInt64 = bytes.last! & 0x80 != 0 ? ~0 : 0
            for (i, b) in bytes.enumerated() {
                value &= ~(0xFF << (8 * UInt64(i)))
                value |= UInt64(b) << (8 * UInt64(i))
            }
            return .int(Int(Int64(bitPattern: value)))
        }
        return .bigInt(bytes)
    }

    static func textIndex(_ line: UnsafeRawBufferPointer) throws(ParseError) -> Int {
        guard let i = Int(decodeText(line)), i >= 0 else { throw .corrupt("pickle memo index is not a number") }
        return i
    }

    static func textInt(_ line: UnsafeRawBufferPointer) throws(ParseError) -> PickleValue {
        let text = decodeText(line)
        if text == "01" { return .bool(true) }
        if text == "00" { return .bool(false) }
        guard let i = Int(text) else { throw .corrupt("pickle INT '\(text.prefix(40))' is not an integer") }
        return .int(i)
    }

    /// Protocol-0 LONG: decimal digits with an optional trailing `L`.
    static func textLong(_ line: UnsafeRawBufferPointer) throws(ParseError) -> PickleValue {
        var text = Substring(decodeText(line))
        if text.hasSuffix("L") { text = text.dropLast() }
        if let i = Int(text) { return .int(i) }
        let negative = text.hasPrefix("-")
        let digits = negative || text.hasPrefix("+") ? text.dropFirst() : text
        // Only identity matters for such values (the legacy magic number), so cap the size.
        guard !digits.isEmpty, digits.count <= 64, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
            throw .corrupt("pickle LONG '\(text.prefix(40))' is not a usable integer")
        }
        var magnitude: [UInt8] = [0]   // little-endian base 256
        for ch in digits {
            var carry = Int(ch.asciiValue! - 48)
            for i in magnitude.indices {
                let v = Int(magnitude[i]) * 10 + carry
                magnitude[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
            while carry > 0 { magnitude.append(UInt8(carry & 0xFF)); carry >>= 8 }
        }
        if magnitude.last! & 0x80 != 0 { magnitude.append(0) }
        if negative {   // two's complement
            var carry = 1
            for i in magnitude.indices {
                let v = Int(~magnitude[i]) + carry
                magnitude[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
        }
        return .bigInt(magnitude)
    }

    /// Python's raw-unicode-escape: Latin-1 bytes plus `\uXXXX` / `\UXXXXXXXX` escapes.
    static func rawUnicodeEscape(_ bytes: UnsafeRawBufferPointer) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x5C, i + 1 < bytes.count, bytes[i + 1] == 0x75 || bytes[i + 1] == 0x55 {
                let width = bytes[i + 1] == 0x75 ? 4 : 8
                if i + 2 + width <= bytes.count,
                   let code = UInt32(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(i + 2)..<(i + 2 + width)]), as: UTF8.self), radix: 16),
                   let scalar = Unicode.Scalar(code) {
                    scalars.append(scalar)
                    i += 2 + width
                    continue
                }
            }
            scalars.append(Unicode.Scalar(bytes[i]))
            i += 1
        }
        return String(scalars)
    }
}
