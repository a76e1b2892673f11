import Foundation
import Imaging

/// Test images made with Gantry's own encoder (so tests need no image files or tools).
public enum TestImages {
    /// A smooth colour pattern with an edge, `channels` 1 or 3, optional alpha ramp.
    public static func pattern(width: Int, height: Int, channels: Int = 3, alpha: Bool = false, seed: Int = 0) -> EncodableImage {
        var s: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let v = 128 + 100 * sin(Double(x + seed * 7) / 5 + Double(c)) * cos(Double(y) / 7) + (x > width / 2 ? 20 : -20)
                    s.append(UInt8(max(0, min(255, v))))
                }
                if alpha { s.append(UInt8((x * 255) / max(1, width - 1))) }
            }
        }
        return EncodableImage(width: width, height: height, colorChannels: channels, hasAlpha: alpha, samples: s, iccProfile: nil)
    }

    public static func png(width: Int, height: Int, channels: Int = 3, alpha: Bool = false, icc: Data? = nil, seed: Int = 0) throws -> Data {
        var img = pattern(width: width, height: height, channels: channels, alpha: alpha, seed: seed)
        img.iccProfile = icc
        return try ImageCodec.encode(img, as: .png, path: "test.png")
    }

    public static func jpeg(width: Int, height: Int, channels: Int = 3, seed: Int = 0) throws -> Data {
        try ImageCodec.encode(pattern(width: width, height: height, channels: channels, seed: seed), as: .jpeg, quality: 90, path: "test.jpg")
    }

    /// `jpeg` with an EXIF APP1 segment carrying `orientation` inserted after SOI.
    public static func withOrientation(_ jpeg: Data, _ orientation: UInt16) -> Data {
        // TIFF, little-endian: header, IFD0 with one entry (0x0112 SHORT 1 = orientation), no next IFD.
        var tiff: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00,
                             0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00]
        tiff += [UInt8(orientation & 0xFF), UInt8(orientation >> 8), 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        let payload: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        let segment: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
        return Data(jpeg.prefix(2)) + Data(segment) + Data(jpeg.dropFirst(2))
    }

    /// A PNG whose IHDR declares `width`×`height` (with a valid CRC) but holds no real data:
    /// a decompression bomb's header.
    public static func pngDeclaring(width: UInt32, height: UInt32) -> Data {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let ihdr: [UInt8] = Array("IHDR".utf8) + be(width) + be(height) + [8, 2, 0, 0, 0]
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be(13) + ihdr + be(crc32(ihdr))
        let idat: [UInt8] = Array("IDAT".utf8) + [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]
        png += be(UInt32(idat.count - 4)) + idat + be(crc32(idat))
        let iend: [UInt8] = Array("IEND".utf8)
        png += be(0) + iend + be(crc32(iend))
        return Data(png)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
