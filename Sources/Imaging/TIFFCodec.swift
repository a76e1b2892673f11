import CTIFF
import Foundation

/// What the first directory of a TIFF declares, read through libtiff.
struct TIFFInfo {
    var header: ImageHeader
    var photometric: UInt16
    var bitsPerSample: Int
    var samplesPerPixel: Int
    var sampleFormat: UInt16
    var separatePlanes: Bool
    var compression: UInt16
    var tiled: Bool
    /// 0 none, 1 associated (premultiplied), 2 unassociated: the first extra sample's type.
    var alpha: UInt16

    var width: Int { header.width }
    var height: Int { header.height }
    var colorSamples: Int { header.colorChannels == 1 || photometric == UInt16(PHOTOMETRIC_PALETTE) ? 1 : 3 }

    /// 8- and 16-bit gray, RGB and 8-bit palette are read sample for sample by `TIFFPixels`;
    /// everything else libtiff can convert (bilevel, 2/4-bit, CMYK, YCbCr, CIE Lab, LogLuv)
    /// goes through its RGBA interface, which yields 8 bits.
    var readsDirectly: Bool {
        guard sampleFormat == UInt16(SAMPLEFORMAT_UINT) || sampleFormat == UInt16(SAMPLEFORMAT_VOID) else { return false }
        switch Int32(photometric) {
        case PHOTOMETRIC_MINISBLACK, PHOTOMETRIC_MINISWHITE, PHOTOMETRIC_RGB:
            return (bitsPerSample == 8 || bitsPerSample == 16) && samplesPerPixel >= colorSamples
        case PHOTOMETRIC_PALETTE:
            return bitsPerSample == 8
        default:
            return false
        }
    }
}

/// TIFF through libtiff: the first page, 8 and 16 bits kept as stored (see `TIFFPixels`), with
/// its Orientation tag applied like a JPEG's EXIF orientation and its ICC profile returned.
enum TIFFCodec {
    /// What libtiff may allocate at once while reading the directory: tag arrays and profiles.
    static let headerAllocationLimit = 64 << 20

    /// The most samples per pixel we read: color, alpha and a few extra channels (more is
    /// either a multispectral image or a lie meant to multiply the buffer sizes).
    static let maxSamplesPerPixel = 16

    static func readInfo(_ bytes: Bytes) throws(ImageFailure) -> TIFFInfo {
        try TIFFHandle.reading(bytes, maxAllocation: headerAllocationLimit) { handle throws(ImageFailure) in
            try info(handle)
        }
    }

    static func info(_ h: TIFFHandle) throws(ImageFailure) -> TIFFInfo {
        let width = Int(h.u32(TIFFTAG_IMAGEWIDTH) ?? 0), height = Int(h.u32(TIFFTAG_IMAGELENGTH) ?? 0)
        guard width > 0, height > 0 else {
            throw ImageFailure(.invalidSize, "TIFF declares a zero size (\(width)×\(height))")
        }
        let bits = Int(h.u16(TIFFTAG_BITSPERSAMPLE) ?? 1)
        let samples = Int(h.u16(TIFFTAG_SAMPLESPERPIXEL) ?? 1)
        guard let photometric = h.u16(TIFFTAG_PHOTOMETRIC) else {
            throw ImageFailure(.corrupt, "TIFF is corrupt: no PhotometricInterpretation tag")
        }
        let gray = photometric == UInt16(PHOTOMETRIC_MINISBLACK) || photometric == UInt16(PHOTOMETRIC_MINISWHITE)
            || photometric == UInt16(PHOTOMETRIC_LOGL)
        let colorSamples = gray || photometric == UInt16(PHOTOMETRIC_PALETTE) ? 1 : 3
        let extras = h.extraSamples()
        var alpha: UInt16 = 0
        // Alpha needs a sample of its own: an ExtraSamples tag on a file without one is ignored.
        if let first = extras.first, samples > colorSamples,
            first == UInt16(EXTRASAMPLE_ASSOCALPHA) || first == UInt16(EXTRASAMPLE_UNASSALPHA)
        {
            alpha = first
        } else if extras.isEmpty, samples == colorSamples + 1, photometric != UInt16(PHOTOMETRIC_SEPARATED) {
            // One sample more than the colors and no ExtraSamples tag: old writers' RGBA or
            // gray+alpha, read as unassociated alpha (as Pillow does).
            alpha = UInt16(EXTRASAMPLE_UNASSALPHA)
        }
        let orientation = Int(h.u16(TIFFTAG_ORIENTATION) ?? 1)
        var info = TIFFInfo(
            header: ImageHeader(
                format: .tiff, width: width, height: height, colorChannels: gray ? 1 : 3, hasAlpha: alpha != 0,
                bitDepth: 8, orientation: (1...8).contains(orientation) ? orientation : 1,
                pageCount: Int(TIFFNumberOfDirectories(h.tif))),
            photometric: photometric, bitsPerSample: bits, samplesPerPixel: samples,
            sampleFormat: h.u16(TIFFTAG_SAMPLEFORMAT) ?? UInt16(SAMPLEFORMAT_UINT),
            separatePlanes: h.u16(TIFFTAG_PLANARCONFIG) == UInt16(PLANARCONFIG_SEPARATE) && samples > 1,
            compression: h.u16(TIFFTAG_COMPRESSION) ?? UInt16(COMPRESSION_NONE),
            tiled: TIFFIsTiled(h.tif) != 0, alpha: alpha)
        if info.readsDirectly, info.photometric != UInt16(PHOTOMETRIC_PALETTE) { info.header.bitDepth = bits }
        return info
    }

    static func decode(_ bytes: Bytes, _ info: TIFFInfo, limits: DecodeLimits) throws(ImageFailure) -> DecodedImage {
        try refuseUnsupported(info)
        let raw = try rawSize(info, limits: limits)
        // libtiff's own buffers (a strip or tile, the compressed data) never need more than the
        // whole image, so a directory that makes it ask for more is lying. The same bytes open
        // to the same first directory that `info` describes.
        let cap = max(headerAllocationLimit, raw + (1 << 20))
        return try TIFFHandle.reading(bytes, maxAllocation: cap) { h throws(ImageFailure) in
            try checkDataSuffices(h, fileSize: bytes.count, info, rawBytes: raw)
            var pixels = info.readsDirectly
                ? try TIFFPixels.readDirect(h, info, rawBytes: raw)
                : try TIFFPixels.readRGBA(h, info)
            if info.alpha == UInt16(EXTRASAMPLE_ASSOCALPHA) || (!info.readsDirectly && info.header.hasAlpha) {
                TIFFPixels.unpremultiply(&pixels.samples, channels: pixels.channels, max: pixels.bitDepth == 16 ? 65535 : 255)
            }
            let upright = Orientation.apply(
                info.header.orientation, to: pixels.samples, width: info.width, height: info.height,
                channels: pixels.channels)
            return DecodedImage(
                width: upright.width, height: upright.height, colorChannels: info.header.colorChannels,
                hasAlpha: info.header.hasAlpha, bitDepth: pixels.bitDepth, samples: upright.samples,
                iccProfile: h.iccProfile(), format: .tiff, orientation: info.header.orientation,
                pageCount: info.header.pageCount)
        }
    }

    private static func refuseUnsupported(_ info: TIFFInfo) throws(ImageFailure) {
        switch Int32(info.sampleFormat) {
        case SAMPLEFORMAT_IEEEFP, SAMPLEFORMAT_COMPLEXIEEEFP:
            throw ImageFailure(.unsupportedFormat, "TIFF with floating-point samples is not supported (only 1- to 16-bit unsigned integers)")
        case SAMPLEFORMAT_INT, SAMPLEFORMAT_COMPLEXINT:
            throw ImageFailure(.unsupportedFormat, "TIFF with signed integer samples is not supported (only unsigned)")
        default: break
        }
        guard info.bitsPerSample >= 1, info.bitsPerSample <= 16 else {
            throw ImageFailure(.unsupportedFormat, "TIFF with \(info.bitsPerSample)-bit samples is not supported (only 1 to 16 bits)")
        }
        guard info.samplesPerPixel >= 1, info.samplesPerPixel <= maxSamplesPerPixel else {
            throw ImageFailure(
                .unsupportedFormat,
                "TIFF with \(info.samplesPerPixel) samples per pixel is not supported (at most \(maxSamplesPerPixel))")
        }
        guard TIFFIsCODECConfigured(info.compression) != 0 else {
            let name = TIFFFindCODEC(info.compression).map { String(cString: $0.pointee.name) } ?? "unknown"
            throw ImageFailure(
                .unsupportedFormat, "TIFF compression \(info.compression) (\(name)) is not supported by this libtiff")
        }
    }

    /// The bytes one page holds as stored (all samples, before any conversion), refused when
    /// over what the limits allow for 16-bit RGBA: many samples per pixel must not multiply
    /// the memory a size within the limits may take.
    private static func rawSize(_ info: TIFFInfo, limits: DecodeLimits) throws(ImageFailure) -> Int {
        let bytesPerSample = (info.bitsPerSample + 7) / 8
        let pixels = info.width.multipliedReportingOverflow(by: info.height)
        let raw = pixels.partialValue.multipliedReportingOverflow(by: info.samplesPerPixel * bytesPerSample)
        let allowed = limits.maxPixels.multipliedReportingOverflow(by: 8)
        if pixels.overflow || raw.overflow || (!allowed.overflow && raw.partialValue > allowed.partialValue) {
            throw ImageFailure(
                .tooLarge,
                "TIFF declares \(info.width)×\(info.height) pixels of \(info.samplesPerPixel) samples, more data "
                    + "than the limit of \(limits.maxPixels) 16-bit RGBA pixels allows")
        }
        return raw.partialValue
    }

    /// The most one byte of compressed data can expand to, per codec, where there is a bound:
    /// PackBits 128 bytes from 2; deflate 1032:1; LZW's 12-bit codes stand for at most 4096
    /// bytes each, 4096:1 rounded up; JPEG needs at least a bit per 8×8 block of a component.
    static func maxRatio(_ compression: UInt16) -> Int? {
        switch Int32(compression) {
        case COMPRESSION_NONE: 1
        case COMPRESSION_PACKBITS: 64
        case COMPRESSION_ADOBE_DEFLATE, COMPRESSION_DEFLATE: 1032
        case COMPRESSION_LZW: 4096
        case COMPRESSION_JPEG: 4096
        default: nil
        }
    }

    /// A decompression bomb's other half: a file within the pixel limits whose strips (or
    /// tiles) cannot possibly hold its declared size is refused before the pixel buffer is
    /// allocated. The byte counts are capped by the file size, since they may lie too.
    private static func checkDataSuffices(
        _ h: TIFFHandle, fileSize: Int, _ info: TIFFInfo, rawBytes: Int
    ) throws(ImageFailure) {
        guard let ratio = maxRatio(info.compression) else { return }
        let count = info.tiled ? TIFFNumberOfTiles(h.tif) : TIFFNumberOfStrips(h.tif)
        var total: UInt64 = 0
        for index in 0..<count where total < UInt64(fileSize) {
            total += min(TIFFGetStrileByteCount(h.tif, index), UInt64(fileSize))
        }
        let stored = Int(min(total, UInt64(fileSize)))
        if rawBytes / ratio > stored + 4096 {
            throw ImageFailure(
                .corrupt,
                "TIFF is corrupt: \(stored) bytes of image data cannot hold \(info.width)×\(info.height) pixels "
                    + "(a decompression bomb?)")
        }
    }
}
