import CTIFF
import Foundation

/// A TIFF page's samples in file orientation, interleaved, before the Orientation tag is applied.
struct TIFFSamples {
    var samples: [UInt16]
    var channels: Int
    var bitDepth: Int
}

/// Reading a TIFF page's pixels.
///
/// - 8- and 16-bit gray, RGB and 8-bit palette: strips or tiles, contiguous or separate planes,
///   through `TIFFReadEncodedStrip`/`Tile` into a buffer in file layout, then the kept samples
///   copied out as stored (16 bits stay 16 bits, alpha included: libtiff does not premultiply
///   here, unlike libpng). MinIsWhite is inverted; palette entries are the colormap's high
///   bytes (like Pillow), or the values themselves when every entry is below 256 (old writers
///   that stored 8-bit maps, as libtiff assumes). Extra samples beyond the first alpha are
///   dropped, and so is an "unspecified" first extra sample.
/// - Everything else libtiff converts (bilevel, 2/4-bit, CMYK, YCbCr, JPEG-in-TIFF YCbCr, CIE
///   Lab, LogLuv): `TIFFRGBAImageGet`, 8 bits, gray photometrics kept as one channel.
enum TIFFPixels {
    /// A strip or tile buffer may exceed the image (tiles overhang its edges) by at most this.
    static let blockSlack = 16 << 20

    static func readDirect(_ h: TIFFHandle, _ info: TIFFInfo, rawBytes: Int) throws(ImageFailure) -> TIFFSamples {
        let raw = try readRaw(h, info, rawBytes: rawBytes)
        let palette = info.photometric == UInt16(PHOTOMETRIC_PALETTE)
        let sixteen = info.bitsPerSample == 16 && !palette
        let spp = info.samplesPerPixel
        let colors = palette ? 3 : info.colorSamples
        let alphaIndex = info.alpha != 0 && spp > info.colorSamples ? info.colorSamples : nil
        let channels = colors + (alphaIndex == nil ? 0 : 1)
        let pixels = info.width * info.height
        var out = [UInt16](repeating: 0, count: pixels * channels)
        if palette {
            guard let map = h.colormap(entries: 256) else {
                throw ImageFailure(.corrupt, "TIFF is corrupt: palette image without a colormap")
            }
            let wide = (map.r + map.g + map.b).contains { $0 > 255 }
            let tables = [map.r, map.g, map.b].map { $0.map { wide ? $0 >> 8 : $0 } }
            for p in 0..<pixels {
                let index = Int(raw[p * spp])
                for c in 0..<3 { out[p * channels + c] = tables[c][index] }
                if let alphaIndex { out[p * channels + 3] = UInt16(raw[p * spp + alphaIndex]) }
            }
            return TIFFSamples(samples: out, channels: channels, bitDepth: 8)
        }
        let invert: UInt16 = info.photometric == UInt16(PHOTOMETRIC_MINISWHITE) ? (sixteen ? 0xFFFF : 0xFF) : 0
        raw.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0..<pixels {
                    for c in 0..<channels {
                        let sample = c < colors ? c : alphaIndex!
                        let v = sixteen
                            ? src.loadUnaligned(fromByteOffset: (p * spp + sample) * 2, as: UInt16.self)
                            : UInt16(src[p * spp + sample])
                        dst[p * channels + c] = c < colors ? v ^ invert : v
                    }
                }
            }
        }
        return TIFFSamples(samples: out, channels: channels, bitDepth: sixteen ? 16 : 8)
    }

    /// The page in file layout: `samplesPerPixel` samples a pixel, native byte order. For
    /// separate planes, only the planes of kept samples are read (the others stay zero).
    private static func readRaw(_ h: TIFFHandle, _ info: TIFFInfo, rawBytes: Int) throws(ImageFailure) -> [UInt8] {
        let bytesPerSample = info.bitsPerSample / 8
        let spp = info.samplesPerPixel
        let planes = info.separatePlanes ? Array(0..<min(spp, info.colorSamples + (info.alpha != 0 ? 1 : 0))) : [0]
        let blockChannels = info.separatePlanes ? 1 : spp
        let blockWidth: Int, blockHeight: Int
        if info.tiled {
            blockWidth = Int(h.u32(TIFFTAG_TILEWIDTH) ?? 0)
            blockHeight = Int(h.u32(TIFFTAG_TILELENGTH) ?? 0)
        } else {
            blockWidth = info.width
            blockHeight = min(Int(h.u32(TIFFTAG_ROWSPERSTRIP) ?? UInt32.max), info.height)
        }
        guard blockWidth > 0, blockHeight > 0 else {
            throw ImageFailure(.corrupt, "TIFF is corrupt: \(blockWidth)×\(blockHeight) \(info.tiled ? "tiles" : "strips")")
        }
        let blockBytes = blockWidth.multipliedReportingOverflow(by: blockHeight)
        let blockSize = blockBytes.partialValue.multipliedReportingOverflow(by: blockChannels * bytesPerSample)
        guard !blockBytes.overflow, !blockSize.overflow, blockSize.partialValue <= rawBytes + blockSlack else {
            throw ImageFailure(
                .corrupt, "TIFF is corrupt: \(blockWidth)×\(blockHeight) tiles are far larger than the image")
        }
        var raw = [UInt8](repeating: 0, count: rawBytes)
        var block = [UInt8](repeating: 0, count: blockSize.partialValue)
        let pixelBytes = spp * bytesPerSample
        for plane in planes {
            for y0 in stride(from: 0, to: info.height, by: blockHeight) {
                for x0 in stride(from: 0, to: info.width, by: blockWidth) {
                    let rows = min(blockHeight, info.height - y0), cols = min(blockWidth, info.width - x0)
                    let read: Int = block.withUnsafeMutableBytes { buffer in
                        if info.tiled {
                            let tile = TIFFComputeTile(h.tif, UInt32(x0), UInt32(y0), 0, UInt16(plane))
                            return Int(TIFFReadEncodedTile(h.tif, tile, buffer.baseAddress, tmsize_t(buffer.count)))
                        }
                        let strip = TIFFComputeStrip(h.tif, UInt32(y0), UInt16(plane))
                        let wanted = rows * blockWidth * blockChannels * bytesPerSample
                        let n = Int(TIFFReadEncodedStrip(h.tif, strip, buffer.baseAddress, tmsize_t(wanted)))
                        return n == wanted ? n : -1
                    }
                    guard read >= 0 else { throw h.failure("TIFF could not be decoded") }
                    raw.withUnsafeMutableBytes { dst in
                        block.withUnsafeBytes { src in
                            for y in 0..<rows {
                                let from = y * blockWidth * blockChannels * bytesPerSample
                                let to = ((y0 + y) * info.width + x0) * pixelBytes
                                if !info.separatePlanes {
                                    dst.baseAddress!.advanced(by: to)
                                        .copyMemory(from: src.baseAddress!.advanced(by: from), byteCount: cols * pixelBytes)
                                    continue
                                }
                                for x in 0..<cols {
                                    for b in 0..<bytesPerSample {
                                        dst[to + x * pixelBytes + plane * bytesPerSample + b] = src[from + x * bytesPerSample + b]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return raw
    }

    /// libtiff's RGBA interface, with the orientation it would apply switched off (the caller
    /// applies all eight like JPEG's; libtiff only flips). Alpha comes back premultiplied.
    static func readRGBA(_ h: TIFFHandle, _ info: TIFFInfo) throws(ImageFailure) -> TIFFSamples {
        var reason = [CChar](repeating: 0, count: 1024)
        var image = TIFFRGBAImage()
        guard TIFFRGBAImageOK(h.tif, &reason) != 0, TIFFRGBAImageBegin(&image, h.tif, 1, &reason) != 0 else {
            let text = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageFailure(.unsupportedFormat, "TIFF variant is not supported: \(text.isEmpty ? "libtiff cannot convert it" : text)")
        }
        defer { TIFFRGBAImageEnd(&image) }
        image.req_orientation = UInt16(ORIENTATION_TOPLEFT)
        image.orientation = UInt16(ORIENTATION_TOPLEFT)
        let pixels = info.width * info.height
        var raster = [UInt32](repeating: 0, count: pixels)
        let errorsBefore = h.errorCount
        let ok = raster.withUnsafeMutableBufferPointer { out in
            TIFFRGBAImageGet(&image, out.baseAddress, UInt32(info.width), UInt32(info.height))
        }
        guard ok != 0 else { throw h.failure("TIFF could not be decoded") }
        // TIFFRGBAImageGet only reports the first error it meets; a later one (a bad tile after
        // good ones) is still in the handle's log.
        if h.errorCount > errorsBefore { throw h.failure("TIFF could not be decoded") }
        let colors = info.header.colorChannels
        let channels = colors + (info.header.hasAlpha ? 1 : 0)
        var out = [UInt16](repeating: 0, count: pixels * channels)
        for p in 0..<pixels {
            let v = raster[p]  // packed A B G R, R in the low byte
            for c in 0..<colors { out[p * channels + c] = UInt16(truncatingIfNeeded: v >> (8 * c)) & 0xFF }
            if info.header.hasAlpha { out[p * channels + colors] = UInt16(v >> 24) }
        }
        return TIFFSamples(samples: out, channels: channels, bitDepth: 8)
    }

    /// Associated (premultiplied) alpha → straight alpha exactly as Pillow unpacks "RGBa":
    /// each color `min(max, c * max / a)`, truncated; where a = 0 the colors are 0.
    static func unpremultiply(_ samples: inout [UInt16], channels: Int, max: Int) {
        let colors = channels - 1
        for p in stride(from: 0, to: samples.count, by: channels) {
            let a = Int(samples[p + colors])
            guard a != max else { continue }
            for c in 0..<colors {
                samples[p + c] = a == 0 ? 0 : UInt16(Swift.min(Int(samples[p + c]) * max / a, max))
            }
        }
    }
}
