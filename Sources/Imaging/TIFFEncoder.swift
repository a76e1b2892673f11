import CTIFF
import Foundation

/// 8- or 16-bit TIFF writing through libtiff into memory (the caller writes the bytes
/// atomically): 16-bit when the image carries `samples16`.
///
/// Gray, gray+alpha, RGB and RGBA are stored as given, contiguous, in strips of about 8 KB;
/// alpha is marked as unassociated (straight), which is what `EncodableImage` holds. The
/// ICC profile goes in the ICCProfile tag.
///
/// Compression: Deflate (Adobe, code 8) with the horizontal differencing predictor. On
/// photographs and GAN output it is smaller than LZW with the same predictor, zlib is fast
/// at both ends, and every current reader (libtiff, Pillow, Photoshop, GIMP, macOS, Windows
/// WIC) decodes it; LZW's only advantage is support by readers from before TIFF 6.0's
/// 1995 technical notes.
enum TIFFEncoder {
    static func encode(_ image: EncodableImage) throws(ImageFailure) -> Data {
        let channels = image.channelsPerPixel
        let bytesPerSample = image.samples16 == nil ? 1 : 2
        let rowBytes = image.width * channels * bytesPerSample
        let raw = rowBytes * image.height
        // Deflate may grow incompressible data by a few bytes per 16 KB block; allow much more.
        let limit = raw + raw / 8 + (image.iccProfile?.count ?? 0) + (1 << 20)
        // Classic TIFF offsets are 32-bit; images whose data could pass 4 GB are written as BigTIFF.
        let big = limit > Int(UInt32.max) - (1 << 20)
        return try TIFFHandle.writing(limit: limit, bigTIFF: big) { h throws(ImageFailure) in
            let gray = image.colorChannels == 1
            var ok = h.set(TIFFTAG_IMAGEWIDTH, u32: UInt32(image.width))
                && h.set(TIFFTAG_IMAGELENGTH, u32: UInt32(image.height))
                && h.set(TIFFTAG_BITSPERSAMPLE, u16: UInt16(8 * bytesPerSample))
                && h.set(TIFFTAG_SAMPLESPERPIXEL, u16: UInt16(channels))
                && h.set(TIFFTAG_PHOTOMETRIC, u16: UInt16(gray ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB))
                && h.set(TIFFTAG_PLANARCONFIG, u16: UInt16(PLANARCONFIG_CONTIG))
                && h.set(TIFFTAG_COMPRESSION, u16: UInt16(COMPRESSION_ADOBE_DEFLATE))
                && h.set(TIFFTAG_PREDICTOR, u16: UInt16(PREDICTOR_HORIZONTAL))
            if ok, image.hasAlpha {
                var type = UInt16(EXTRASAMPLE_UNASSALPHA)
                ok = gantry_tiff_set_extra_samples(h.tif, 1, &type) != 0
            }
            if ok, let profile = image.iccProfile, !profile.isEmpty {
                ok = profile.withUnsafeBytes { gantry_tiff_set_icc(h.tif, UInt32(profile.count), $0.baseAddress) != 0 }
            }
            let rowsPerStrip = max(1, Int(TIFFDefaultStripSize(h.tif, 0)))
            if ok { ok = h.set(TIFFTAG_ROWSPERSTRIP, u32: UInt32(rowsPerStrip)) }
            guard ok else { throw h.writeFailure() }
            var strip: UInt32 = 0
            for y in stride(from: 0, to: image.height, by: rowsPerStrip) {
                let rows = min(rowsPerStrip, image.height - y)
                // libtiff's predictor works in place on what it is given, so it gets a copy
                // (16-bit samples in this machine's byte order, which libtiff records).
                let rowSamples = rowBytes / bytesPerSample
                let range = (y * rowSamples)..<((y + rows) * rowSamples)
                let written: Int
                if let wide = image.samples16 {
                    var piece = Array(wide[range])
                    written = piece.withUnsafeMutableBytes { Int(TIFFWriteEncodedStrip(h.tif, strip, $0.baseAddress, tmsize_t($0.count))) }
                } else {
                    var piece = Array(image.samples[range])
                    written = piece.withUnsafeMutableBytes { Int(TIFFWriteEncodedStrip(h.tif, strip, $0.baseAddress, tmsize_t($0.count))) }
                }
                guard written == rows * rowBytes else { throw h.writeFailure() }
                strip += 1
            }
        }
    }
}
