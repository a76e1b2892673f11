import Foundation

/// A still-image container Gantry reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png
    case jpeg
    /// Baseline TIFF and BigTIFF: the first page is decoded (`DecodedImage.pageCount` says how many).
    case tiff
    /// Still WebP, lossy (VP8) or lossless (VP8L), with or without alpha; animations are refused.
    case webp

    /// The name people use: "PNG", "JPEG", "TIFF", "WebP".
    public var displayName: String {
        switch self {
        case .png: "PNG"
        case .jpeg: "JPEG"
        case .tiff: "TIFF"
        case .webp: "WebP"
        }
    }
}

/// What a file declares about itself, read without decoding any pixels.
public struct ImageHeader: Sendable, Equatable {
    /// The container, sniffed from the content.
    public var format: ImageFormat
    /// Width as stored in the file (before EXIF orientation is applied).
    public var width: Int
    /// Height as stored in the file (before EXIF orientation is applied).
    public var height: Int
    /// 1 for gray, 3 for color (palette, RGB, YCbCr, CMYK and YCCK all count as color).
    public var colorChannels: Int
    /// Whether the image carries alpha: gray+alpha, RGBA, a PNG `tRNS` chunk, a TIFF alpha
    /// extra sample, or a WebP alpha channel.
    public var hasAlpha: Bool
    /// Bits per stored sample as declared (8 or 16; PNG and TIFF depths below 8 report 8, and
    /// so do TIFFs that decode through libtiff's RGBA path: CMYK, YCbCr, bilevel, …).
    public var bitDepth: Int
    /// EXIF orientation 1...8 (TIFF: the Orientation tag; WebP: its EXIF chunk); 1 for PNG and
    /// for files without a valid tag.
    public var orientation: Int
    /// Pages (TIFF directories, thumbnails included) in the file; 1 for every other format.
    public var pageCount: Int

    /// Creates a header; used by the codecs and by tests.
    public init(
        format: ImageFormat, width: Int, height: Int, colorChannels: Int,
        hasAlpha: Bool, bitDepth: Int, orientation: Int, pageCount: Int = 1
    ) {
        self.format = format
        self.width = width
        self.height = height
        self.colorChannels = colorChannels
        self.hasAlpha = hasAlpha
        self.bitDepth = bitDepth
        self.orientation = orientation
        self.pageCount = pageCount
    }
}

/// Upper bounds checked against the header before any pixel memory is allocated.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest accepted width × height; the default is PIL's `MAX_IMAGE_PIXELS`.
    public var maxPixels: Int
    /// Largest accepted width or height.
    public var maxSide: Int

    /// The default largest side, also the bound on sizes options ask for (load and crop sizes).
    public static let largestSide = 65_500

    /// Creates limits; the defaults match what Pillow accepts without a warning.
    public init(maxPixels: Int = 178_956_970, maxSide: Int = DecodeLimits.largestSide) {
        self.maxPixels = maxPixels
        self.maxSide = maxSide
    }
}

/// A fully decoded image, already turned upright by its EXIF orientation.
public struct DecodedImage: Sendable {
    /// Width after the EXIF orientation was applied.
    public var width: Int
    /// Height after the EXIF orientation was applied.
    public var height: Int
    /// 1 (gray) or 3 (RGB); palette PNGs and TIFFs, CMYK/YCCK JPEGs, CMYK/YCbCr TIFFs and all
    /// WebPs decode to 3.
    public var colorChannels: Int
    /// Whether `samples` carry an alpha channel after the color channels.
    public var hasAlpha: Bool
    /// 8 or 16: the range the samples hold (0...255 or 0...65535). 16 for 16-bit PNG gray and
    /// RGB (with or without a `tRNS` key) and for every 16-bit gray/RGB TIFF, with or without
    /// alpha; 16-bit gray+alpha and RGBA PNGs decode to 8 (each sample rounded, `v / 257`)
    /// because libpng's simplified API premultiplies alpha in every 16-bit format.
    public var bitDepth: Int
    /// Interleaved, row-major, `channelsPerPixel` samples per pixel.
    public var samples: [UInt16]
    /// The embedded ICC profile: PNG `iCCP` decompressed, JPEG `APP2` chunks reassembled, the
    /// TIFF `ICCProfile` tag, or the WebP `ICCP` chunk.
    public var iccProfile: Data?
    /// The container the image came from.
    public var format: ImageFormat
    /// The EXIF orientation that was applied to the pixels (1 = none).
    public var orientation: Int
    /// Pages in the file; only the first was decoded. Above 1 only for multi-page TIFFs, where a
    /// caller should say so ("multi-page TIFF: converted page 1 of N").
    public var pageCount: Int

    /// Creates a decoded image; used by the codecs and by tests.
    public init(
        width: Int, height: Int, colorChannels: Int, hasAlpha: Bool, bitDepth: Int,
        samples: [UInt16], iccProfile: Data?, format: ImageFormat, orientation: Int, pageCount: Int = 1
    ) {
        self.width = width
        self.height = height
        self.colorChannels = colorChannels
        self.hasAlpha = hasAlpha
        self.bitDepth = bitDepth
        self.samples = samples
        self.iccProfile = iccProfile
        self.format = format
        self.orientation = orientation
        self.pageCount = pageCount
    }

    /// Samples per pixel: the color channels plus one for alpha.
    public var channelsPerPixel: Int { colorChannels + (hasAlpha ? 1 : 0) }
}

/// An 8-bit image the pipeline wants written to disk.
public struct EncodableImage: Sendable {
    /// Width in pixels (at least 1).
    public var width: Int
    /// Height in pixels (at least 1).
    public var height: Int
    /// 1 (gray) or 3 (RGB).
    public var colorChannels: Int
    /// Whether `samples` carry an alpha channel after the color channels.
    public var hasAlpha: Bool
    /// Interleaved, row-major, `colorChannels + (hasAlpha ? 1 : 0)` bytes per pixel.
    public var samples: [UInt8]
    /// A profile to embed so viewers show the colors as the source did; nil writes none.
    public var iccProfile: Data?
    /// The same pixels at 16 bits (0…65535, same layout), for a 16-bit source: TIFF stores
    /// them, and PNG without alpha; JPEG, WebP and PNG with alpha write `samples`.
    public var samples16: [UInt16]?

    /// Creates an image to encode; `encode` checks that the sizes agree.
    public init(
        width: Int, height: Int, colorChannels: Int, hasAlpha: Bool,
        samples: [UInt8], iccProfile: Data? = nil, samples16: [UInt16]? = nil
    ) {
        self.width = width
        self.height = height
        self.colorChannels = colorChannels
        self.hasAlpha = hasAlpha
        self.samples = samples
        self.iccProfile = iccProfile
        self.samples16 = samples16
    }

    /// Samples per pixel: the color channels plus one for alpha.
    public var channelsPerPixel: Int { colorChannels + (hasAlpha ? 1 : 0) }
}
