import Foundation

/// A still-image container Gantry reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png
    case jpeg
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
    /// Whether the image carries alpha: gray+alpha, RGBA, or a PNG `tRNS` chunk.
    public var hasAlpha: Bool
    /// Bits per stored sample as declared (8 or 16; PNG depths below 8 report 8).
    public var bitDepth: Int
    /// EXIF orientation 1...8; always 1 for PNG and for JPEGs without a valid tag.
    public var orientation: Int

    /// Creates a header; used by the codecs and by tests.
    public init(
        format: ImageFormat, width: Int, height: Int, colorChannels: Int,
        hasAlpha: Bool, bitDepth: Int, orientation: Int
    ) {
        self.format = format
        self.width = width
        self.height = height
        self.colorChannels = colorChannels
        self.hasAlpha = hasAlpha
        self.bitDepth = bitDepth
        self.orientation = orientation
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
    /// 1 (gray) or 3 (RGB); palette PNGs and CMYK/YCCK JPEGs decode to 3.
    public var colorChannels: Int
    /// Whether `samples` carry an alpha channel after the color channels.
    public var hasAlpha: Bool
    /// 8 or 16: the range the samples hold (0...255 or 0...65535). 16 only for 16-bit PNG
    /// gray and RGB (with or without a `tRNS` key); 16-bit gray+alpha and RGBA PNGs decode to
    /// 8 (each sample rounded, `v / 257`) because libpng's simplified API premultiplies
    /// alpha in every 16-bit format.
    public var bitDepth: Int
    /// Interleaved, row-major, `channelsPerPixel` samples per pixel.
    public var samples: [UInt16]
    /// The embedded ICC profile: PNG `iCCP` decompressed, or JPEG `APP2` chunks reassembled.
    public var iccProfile: Data?
    /// The container the image came from.
    public var format: ImageFormat
    /// The EXIF orientation that was applied to the pixels (1 = none).
    public var orientation: Int

    /// Creates a decoded image; used by the codecs and by tests.
    public init(
        width: Int, height: Int, colorChannels: Int, hasAlpha: Bool, bitDepth: Int,
        samples: [UInt16], iccProfile: Data?, format: ImageFormat, orientation: Int
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

    /// Creates an image to encode; `encode` checks that the sizes agree.
    public init(
        width: Int, height: Int, colorChannels: Int, hasAlpha: Bool,
        samples: [UInt8], iccProfile: Data? = nil
    ) {
        self.width = width
        self.height = height
        self.colorChannels = colorChannels
        self.hasAlpha = hasAlpha
        self.samples = samples
        self.iccProfile = iccProfile
    }

    /// Samples per pixel: the color channels plus one for alpha.
    public var channelsPerPixel: Int { colorChannels + (hasAlpha ? 1 : 0) }
}
