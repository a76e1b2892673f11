import Foundation

/// One chunk's position in the file; `offset` is where its length field starts.
struct PNGChunk {
    let type: String
    let offset: Int
    let length: Int

    var dataOffset: Int { offset + 8 }
    /// Length field, type, data and CRC.
    var totalLength: Int { length + 12 }
    /// Ancillary chunks have a lowercase first letter (bit 5 set).
    var isCritical: Bool { type.utf8.first.map { $0 & 0x20 == 0 } ?? true }
}

/// What the chunk walk learned about a PNG before (or without) decoding pixels.
struct PNGInfo {
    var width = 0
    var height = 0
    var bitDepth = 0
    var colorType = 0
    var interlaced = false
    var chunks: [PNGChunk] = []
    var hasPalette = false
    var transparency: Data?
    var iccCompressed: Data?
    var imageDataBytes = 0
    var reachedEnd = false

    var isColor: Bool { colorType & 2 != 0 }
    var hasAlphaChannel: Bool { colorType == 4 || colorType == 6 }
    var hasAlpha: Bool { hasAlphaChannel || transparency != nil }

    /// Bytes of filtered scanlines the IDAT stream must inflate to (non-interlaced layout;
    /// interlacing only adds a little, and this is used as a lower bound).
    var rawImageBytes: Int {
        let samples = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
        let rowBits = width * samples * bitDepth
        return height * (1 + (rowBits + 7) / 8)
    }

    var header: ImageHeader {
        ImageHeader(
            format: .png, width: width, height: height, colorChannels: isColor ? 3 : 1,
            hasAlpha: hasAlpha, bitDepth: bitDepth == 16 ? 16 : 8, orientation: 1)
    }
}

/// A pure-Swift walk over PNG chunks: checks every CRC and the file's completeness
/// itself, so damaged files are reported precisely and before libpng sees them.
enum PNGChunks {
    static let validDepths: [Int: Set<Int>] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]

    /// Walks from the signature to IEND, or only up to the first IDAT when `headerOnly`.
    static func walk(_ b: Bytes, headerOnly: Bool) throws(ImageFailure) -> PNGInfo {
        var info = PNGInfo()
        var pos = FormatSniffer.pngSignature.count
        while true {
            guard b.has(pos, 8) else {
                if pos == b.count {
                    throw ImageFailure(.truncated, "PNG is truncated: the file ends before the IEND chunk")
                }
                throw ImageFailure(.truncated, "PNG is truncated: the file ends inside a chunk header")
            }
            let length = b.u32be(pos)
            let type = String(decoding: b.slice(pos + 4, 4), as: UTF8.self)
            guard type.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw ImageFailure(.corrupt, "PNG is corrupt: invalid chunk type at byte \(pos + 4)")
            }
            guard length <= 0x7FFF_FFFF else {
                throw ImageFailure(.corrupt, "PNG is corrupt: the \(type) chunk declares an impossible length")
            }
            let chunk = PNGChunk(type: type, offset: pos, length: length)
            guard b.has(pos, chunk.totalLength) else {
                throw ImageFailure(
                    .truncated,
                    "PNG is truncated: the file ends inside the \(type) chunk "
                        + "(\(b.count - chunk.dataOffset) of \(length + 4) bytes present)")
            }
            let stored = UInt32(b.u32be(chunk.dataOffset + length))
            guard Zlib.crc(b.slice(pos + 4, 4 + length)) == stored else {
                throw ImageFailure(.corrupt, "PNG is corrupt: bad CRC in the \(type) chunk at byte \(pos)")
            }
            if info.chunks.isEmpty, type != "IHDR" {
                throw ImageFailure(.corrupt, "PNG is corrupt: the first chunk is \(type), not IHDR")
            }
            info.chunks.append(chunk)
            try read(chunk, b, into: &info)
            if type == "IEND" {
                info.reachedEnd = true
                return info
            }
            if headerOnly, type == "IDAT" { return info }
            pos += chunk.totalLength
        }
    }

    private static func read(_ chunk: PNGChunk, _ b: Bytes, into info: inout PNGInfo) throws(ImageFailure) {
        let data = chunk.dataOffset
        switch chunk.type {
        case "IHDR":
            guard info.chunks.count == 1, chunk.length == 13 else {
                throw ImageFailure(.corrupt, "PNG is corrupt: malformed IHDR chunk")
            }
            info.width = b.u32be(data)
            info.height = b.u32be(data + 4)
            info.bitDepth = Int(b[data + 8])
            info.colorType = Int(b[data + 9])
            info.interlaced = b[data + 12] == 1
            if info.width == 0 || info.height == 0 {
                throw ImageFailure(.invalidSize, "PNG declares a zero size (\(info.width)×\(info.height))")
            }
            guard info.width <= 0x7FFF_FFFF, info.height <= 0x7FFF_FFFF else {
                throw ImageFailure(.corrupt, "PNG is corrupt: IHDR declares an impossible size")
            }
            guard validDepths[info.colorType]?.contains(info.bitDepth) == true else {
                throw ImageFailure(
                    .corrupt,
                    "PNG is corrupt: invalid bit depth \(info.bitDepth) for color type \(info.colorType)")
            }
            guard b[data + 10] == 0, b[data + 11] == 0, b[data + 12] <= 1 else {
                throw ImageFailure(.corrupt, "PNG is corrupt: unknown compression, filter or interlace method")
            }
        case "PLTE":
            info.hasPalette = true
        case "tRNS":
            info.transparency = b.slice(data, chunk.length)
        case "iCCP":
            // Keyword (1-79 bytes), NUL, compression method, then the zlib stream.
            let end = min(chunk.length, 81)
            if let nul = (0..<end).first(where: { b[data + $0] == 0 }), nul + 2 <= chunk.length {
                info.iccCompressed = b.slice(data + nul + 2, chunk.length - nul - 2)
            }
        case "IDAT":
            if info.colorType == 3, !info.hasPalette {
                throw ImageFailure(.corrupt, "PNG is corrupt: palette image without a PLTE chunk")
            }
            info.imageDataBytes += chunk.length
        default:
            break
        }
    }

    /// The file with the chunks in `dropping` left out (CRCs of kept chunks are untouched).
    static func rebuild(_ b: Bytes, _ info: PNGInfo, dropping: Set<String>) -> Data {
        var out = Data(FormatSniffer.pngSignature)
        out.reserveCapacity(b.count)
        for chunk in info.chunks where !dropping.contains(chunk.type) {
            out.append(b.slice(chunk.offset, chunk.totalLength))
        }
        return out
    }

    /// A complete chunk (length, type, data, CRC).
    static func makeChunk(_ type: String, _ payload: Data) -> Data {
        let typeBytes = Data(type.utf8)
        var out = Data()
        out.appendBE32(payload.count)
        out.append(typeBytes)
        out.append(payload)
        out.appendBE32(Int(Zlib.crc(typeBytes, payload)))
        return out
    }
}
