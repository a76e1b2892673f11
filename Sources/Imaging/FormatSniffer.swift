import Foundation

/// What the first bytes of a file say it is; the extension is never consulted, because
/// users rename files and web servers save error pages under image names.
enum SniffedFormat: Equatable {
    case png
    case jpeg
    /// Classic (`II*\0`, `MM\0*`) or BigTIFF (`II+\0`, `MM\0+`).
    case tiff
    /// `RIFF`, a size, `WEBP`.
    case webp
    /// A recognised image format Gantry does not read, by its common name.
    case unsupported(String)
    /// The data is a strict prefix of a signature of a format Gantry reads.
    case truncatedSignature(ImageFormat)
    /// Not an image; the string describes what it looks like instead.
    case notAnImage(String)
}

enum FormatSniffer {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    static let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]
    static let tiffSignatures: [[UInt8]] = [
        [0x49, 0x49, 0x2A, 0x00], [0x4D, 0x4D, 0x00, 0x2A], [0x49, 0x49, 0x2B, 0x00], [0x4D, 0x4D, 0x00, 0x2B],
    ]

    static func sniff(_ bytes: Bytes) -> SniffedFormat {
        if bytes.starts(with: pngSignature) { return .png }
        if bytes.starts(with: jpegSignature) { return .jpeg }
        if tiffSignatures.contains(where: { bytes.starts(with: $0) }) { return .tiff }
        if bytes.starts(with: ascii("RIFF")), bytes.starts(with: ascii("WEBP"), at: 8) { return .webp }
        if bytes.count < pngSignature.count, isPrefix(bytes, of: pngSignature) { return .truncatedSignature(.png) }
        if bytes.count < jpegSignature.count, isPrefix(bytes, of: jpegSignature) {
            return .truncatedSignature(.jpeg)
        }
        if bytes.count < 4, tiffSignatures.contains(where: { isPrefix(bytes, of: $0) }) { return .truncatedSignature(.tiff) }
        // The RIFF size (bytes 4..<8) can be anything; what follows it must still be "WEBP".
        let webpPrefix = isPrefix(bytes.count <= 4 ? bytes : Bytes(bytes.slice(0, 4)), of: ascii("RIFF"))
            && (bytes.count <= 8 || isPrefix(Bytes(bytes.slice(8, bytes.count - 8)), of: ascii("WEBP")))
        if bytes.count < 12, webpPrefix { return .truncatedSignature(.webp) }
        if let name = otherImageFormat(bytes) { return .unsupported(name) }
        return .notAnImage(describe(bytes))
    }

    private static func isPrefix(_ bytes: Bytes, of signature: [UInt8]) -> Bool {
        bytes.count > 0 && (0..<bytes.count).allSatisfy { bytes[$0] == signature[$0] }
    }

    private static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    private static func otherImageFormat(_ b: Bytes) -> String? {
        if b.starts(with: ascii("GIF87a")) || b.starts(with: ascii("GIF89a")) { return "GIF" }
        // "BM" alone also starts ordinary text, so require a known DIB header size too.
        if b.starts(with: ascii("BM")), b.has(14, 4), [12, 16, 40, 52, 56, 64, 108, 124].contains(b.u32le(14)) {
            return "BMP"
        }
        if b.starts(with: ascii("ftyp"), at: 4), b.has(8, 4) {
            let brand = String(decoding: b.slice(8, 4), as: UTF8.self)
            if ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"].contains(brand) { return "HEIC" }
            if ["avif", "avis"].contains(brand) { return "AVIF" }
            if brand == "jp2 " || brand == "jpx " { return "JPEG 2000" }
            if brand == "crx " { return "Canon CR3 raw" }
        }
        if b.starts(with: [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) { return "JPEG 2000" }
        if b.starts(with: [0xFF, 0x4F, 0xFF, 0x51]) { return "JPEG 2000" }
        if b.starts(with: [0xFF, 0x0A]) || b.starts(with: [0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) {
            return "JPEG XL"
        }
        if b.starts(with: ascii("qoif")) { return "QOI" }
        if b.starts(with: ascii("8BPS")) { return "Photoshop PSD" }
        if b.starts(with: [0x00, 0x00, 0x01, 0x00]), b.has(4, 2), b.u16le(4) > 0 { return "ICO" }
        return nil
    }

    /// A short, one-line hint at what non-image content is, for the error message.
    private static func describe(_ b: Bytes) -> String {
        let head = b.slice(0, min(b.count, 512))
        if head.starts(with: ascii("%PDF")) { return "a PDF document" }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return "a ZIP archive" }
        if head.starts(with: [0x1F, 0x8B]) { return "gzip-compressed data" }
        let text = String(decoding: head, as: UTF8.self)
        let printable = text.unicodeScalars.allSatisfy {
            $0 == "\n" || $0 == "\r" || $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F && $0.value != 0xFFFD)
        }
        guard printable else { return "unrecognised binary data" }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let kind = trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html") ? "an HTML page" : "text"
        let snippet = ImageError.singleLine(String(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(40)))
        return "\(kind) (starts with \"\(snippet)\")"
    }
}
