import Foundation

/// What the marker walk learned from a JPEG's segments before the first scan.
struct JPEGInfo {
    var width = 0
    var height = 0
    var components = 0
    var precision = 8
    var orientation = 1
    /// (sequence number, declared count, bytes) from each APP2 ICC_PROFILE segment.
    var iccChunks: [(sequence: Int, count: Int, data: Data)] = []
    var hasAdobe = false
    /// Arithmetic-coded (SOF9–SOF15) rather than Huffman-coded.
    var arithmetic = false
    /// Bytes from the first scan's data to the end of the file.
    var dataBytes = 0

    var header: ImageHeader {
        ImageHeader(
            format: .jpeg, width: width, height: height, colorChannels: components == 1 ? 1 : 3,
            hasAlpha: false, bitDepth: 8, orientation: orientation)
    }

    /// The profile reassembled in sequence order, or nil when absent or inconsistent
    /// (missing or repeated chunks), which libjpeg-turbo's own reader also ignores.
    var iccProfile: Data? {
        guard let total = iccChunks.first?.count, total > 0, iccChunks.count == total,
            iccChunks.allSatisfy({ $0.count == total })
        else { return nil }
        let ordered = iccChunks.sorted { $0.sequence < $1.sequence }
        guard ordered.map(\.sequence) == Array(1...total) else { return nil }
        return ordered.reduce(into: Data()) { $0.append($1.data) }
    }
}

/// A pure-Swift walk over JPEG marker segments up to the first SOS: size, components,
/// EXIF orientation, ICC chunks and the Adobe marker, without touching entropy data.
enum JPEGMarkers {
    static let iccSignature = Array("ICC_PROFILE".utf8) + [0]
    static let exifSignature = Array("Exif".utf8) + [0, 0]
    /// Profile bytes per APP2 segment: 65535 - 2 (length) - 12 (signature) - 2 (seq, count).
    static let iccChunkCapacity = 65_519

    static func walk(_ b: Bytes) throws(ImageFailure) -> JPEGInfo {
        var info = JPEGInfo()
        var sawFrame = false
        var sawExif = false
        var pos = 2
        while true {
            guard pos < b.count else {
                throw ImageFailure(.truncated, "JPEG is truncated: the file ends before the image data")
            }
            guard b[pos] == 0xFF else {
                throw ImageFailure(.corrupt, "JPEG is corrupt: expected a marker at byte \(pos)")
            }
            while pos < b.count, b[pos] == 0xFF { pos += 1 }  // fill bytes
            guard pos < b.count else {
                throw ImageFailure(.truncated, "JPEG is truncated: the file ends before the image data")
            }
            let marker = b[pos]
            pos += 1
            switch marker {
            case 0xD8:
                throw ImageFailure(.corrupt, "JPEG is corrupt: a second start-of-image marker")
            case 0xD9:
                throw ImageFailure(.corrupt, "JPEG is corrupt: it ends before any image data")
            case 0x01, 0xD0...0xD7:
                continue
            case 0x00, 0x02...0xBF:
                // Reserved codes: libjpeg refuses them, and skipping them by a guessed length
                // could make this walk read a different frame header than libjpeg does.
                throw ImageFailure(.corrupt, "JPEG is corrupt: invalid marker 0x\(String(marker, radix: 16)) at byte \(pos - 1)")
            default:
                break
            }
            guard b.has(pos, 2) else {
                throw ImageFailure(.truncated, "JPEG is truncated: the file ends inside a marker segment")
            }
            let length = b.u16be(pos)
            guard length >= 2 else {
                throw ImageFailure(.corrupt, "JPEG is corrupt: invalid segment length at byte \(pos)")
            }
            guard b.has(pos, length) else {
                throw ImageFailure(.truncated, "JPEG is truncated: the file ends inside a marker segment")
            }
            let payload = pos + 2
            let payloadLength = length - 2
            switch marker {
            // The signature must lie inside the segment: a shorter APP1 followed by "Exif\0\0" bytes
            // is another segment's data, not an EXIF block.
            case 0xE1 where payloadLength >= exifSignature.count && b.starts(with: exifSignature, at: payload) && !sawExif:
                sawExif = true  // like Pillow, only the first EXIF block counts
                info.orientation = exifOrientation(Bytes(b.slice(payload + 6, payloadLength - 6)))
            case 0xE2 where payloadLength >= 14 && b.starts(with: iccSignature, at: payload):
                info.iccChunks.append(
                    (Int(b[payload + 12]), Int(b[payload + 13]), b.slice(payload + 14, payloadLength - 14)))
            case 0xEE where b.starts(with: Array("Adobe".utf8), at: payload):
                info.hasAdobe = true
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                guard !sawFrame else { throw ImageFailure(.corrupt, "JPEG is corrupt: more than one frame header") }
                sawFrame = true
                try readFrame(marker, b, payload, payloadLength, into: &info)
            case 0xDA:
                guard sawFrame else {
                    throw ImageFailure(.corrupt, "JPEG is corrupt: image data before the frame header")
                }
                guard pos + length < b.count else {
                    throw ImageFailure(.truncated, "JPEG is truncated: the file ends where the image data starts")
                }
                info.dataBytes = b.count - (pos + length)
                return info
            default:
                break
            }
            pos += length
        }
    }

    /// The pixel buffer is allocated from the frame header before libjpeg reads a bit of image
    /// data, and libjpeg fills missing data with grey: a few bytes could claim gigabytes (the
    /// PNG path bounds IDAT by deflate's ratio the same way). Huffman coding spends at least one
    /// bit on every 8×8 block of the first component (its DC code); arithmetic coding can go
    /// far below that on flat images, so it gets a looser bound (1/64 bit per block).
    static func checkDataSuffices(_ info: JPEGInfo) throws(ImageFailure) {
        let dataBytes = info.dataBytes
        let blocks = ((info.width + 7) / 8) * ((info.height + 7) / 8)
        let blocksPerByte = info.arithmetic ? 8 * 64 : 8
        let needed = (blocks + blocksPerByte - 1) / blocksPerByte
        guard dataBytes >= needed else {
            throw ImageFailure(.truncated, "JPEG is truncated: its header declares \(info.width)×\(info.height) pixels, which need at least \(needed) bytes of image data, but only \(dataBytes) follow (a damaged download or a decompression bomb)")
        }
    }

    private static func readFrame(
        _ marker: UInt8, _ b: Bytes, _ payload: Int, _ length: Int, into info: inout JPEGInfo
    ) throws(ImageFailure) {
        guard length >= 6 else { throw ImageFailure(.corrupt, "JPEG is corrupt: malformed frame header") }
        info.precision = Int(b[payload])
        info.height = b.u16be(payload + 1)
        info.width = b.u16be(payload + 3)
        info.components = Int(b[payload + 5])
        info.arithmetic = marker >= 0xC9
        guard length >= 6 + 3 * info.components else {
            throw ImageFailure(.corrupt, "JPEG is corrupt: malformed frame header")
        }
        if [0xC3, 0xC7, 0xCB, 0xCF].contains(marker) {
            throw ImageFailure(.unsupportedFormat, "lossless JPEG is not supported")
        }
        if [0xC5, 0xC6, 0xCD, 0xCE].contains(marker) {
            throw ImageFailure(.unsupportedFormat, "hierarchical JPEG is not supported")
        }
        guard info.precision == 8 else {
            throw ImageFailure(.unsupportedFormat, "\(info.precision)-bit JPEG is not supported (only 8-bit)")
        }
        guard [1, 3, 4].contains(info.components) else {
            throw ImageFailure(.unsupportedFormat, "JPEG with \(info.components) components is not supported")
        }
        // Height 0 means "given later by a DNL marker", which libjpeg does not support either.
        if info.width == 0 || info.height == 0 {
            throw ImageFailure(.invalidSize, "JPEG declares a zero size (\(info.width)×\(info.height))")
        }
    }

    /// Tag 0x0112 from IFD0 of the TIFF structure inside APP1; 1 when missing or out of range.
    static func exifOrientation(_ t: Bytes) -> Int {
        guard t.has(0, 8) else { return 1 }
        let little: Bool
        if t.starts(with: [0x49, 0x49]) { little = true } else if t.starts(with: [0x4D, 0x4D]) { little = false } else {
            return 1
        }
        let u16 = { (o: Int) in little ? t.u16le(o) : t.u16be(o) }
        let u32 = { (o: Int) in little ? t.u32le(o) : t.u32be(o) }
        guard u16(2) == 42 else { return 1 }
        let ifd = u32(4)
        guard t.has(ifd, 2) else { return 1 }
        let entries = u16(ifd)
        for i in 0..<entries {
            let entry = ifd + 2 + i * 12
            guard t.has(entry, 12) else { return 1 }
            guard u16(entry) == 0x0112 else { continue }
            let value: Int
            switch u16(entry + 2) {
            case 3: value = u16(entry + 8)  // SHORT, the type the spec uses
            case 4: value = u32(entry + 8)  // LONG, written by some tools
            default: return 1
            }
            return (1...8).contains(value) ? value : 1
        }
        return 1
    }

    /// `jpeg` with the profile as APP2 segments after SOI and any APP0 (JFIF must come first).
    static func embed(_ profile: Data, in jpeg: Data) throws(ImageFailure) -> Data {
        let chunkCount = (profile.count + iccChunkCapacity - 1) / iccChunkCapacity
        guard chunkCount <= 255 else {
            throw ImageFailure(.tooLarge, "the ICC profile (\(profile.count) bytes) is too large to embed in a JPEG")
        }
        let b = Bytes(jpeg)
        var insertAt = 2
        if b.has(2, 4), b[2] == 0xFF, b[3] == 0xE0 { insertAt = 4 + b.u16be(4) }
        var out = Data()
        out.reserveCapacity(jpeg.count + profile.count + chunkCount * 18)
        out.append(b.slice(0, insertAt))
        for index in 0..<chunkCount {
            let start = index * iccChunkCapacity
            let piece = Bytes(profile).slice(start, min(iccChunkCapacity, profile.count - start))
            out.append(contentsOf: [0xFF, 0xE2])
            out.appendBE16(2 + iccSignature.count + 2 + piece.count)
            out.append(contentsOf: iccSignature)
            out.append(contentsOf: [UInt8(index + 1), UInt8(chunkCount)])
            out.append(piece)
        }
        out.append(b.slice(insertAt, b.count - insertAt))
        return out
    }
}
