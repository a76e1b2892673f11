/// File-name extensions: which name the formats Gantry reads and writes, and which name image
/// formats it does not, so a command can say "BMP is not a format Gantry reads" instead of
/// skipping the file as if it were not an image. The content, not the name, decides how a file is
/// decoded (`FormatSniffer`); names only decide which files a folder walk picks up and how an
/// output is written.
extension ImageFormat {
    /// Lower-case extensions of the files Gantry reads, by format.
    public static let extensions: [String: ImageFormat] = [
        "png": .png, "jpg": .jpeg, "jpeg": .jpeg, "jpe": .jpeg, "jfif": .jpeg,
        "tif": .tiff, "tiff": .tiff, "webp": .webp,
    ]

    /// The format a file name's extension stands for (case-insensitive), or nil.
    public init?(fileExtension ext: String) {
        guard let f = Self.extensions[ext.lowercased()] else { return nil }
        self = f
    }

    /// "PNG, JPEG, TIFF and WebP" for messages.
    public static var supportedList: String { "PNG, JPEG, TIFF and WebP" }

    /// The common name of the image format that `ext` names when Gantry does not read it
    /// ("BMP" for "bmp"), or nil when the extension is not an image format's at all.
    public static func unsupportedName(forExtension ext: String) -> String? {
        switch ext.lowercased() {
        case "bmp", "dib": return "BMP"
        case "gif": return "GIF"
        case "heic", "heif", "hif": return "HEIC"
        case "avif": return "AVIF"
        case "jp2", "j2k", "jpf", "jpx", "jpm": return "JPEG 2000"
        case "jxl": return "JPEG XL"
        case "tga", "icb", "vda", "vst": return "TGA"
        case "ppm", "pgm", "pbm", "pnm", "pam": return "Netpbm"
        case "psd", "psb": return "Photoshop"
        case "exr": return "OpenEXR"
        case "hdr": return "Radiance HDR"
        case "ico", "cur": return "ICO"
        case "qoi": return "QOI"
        case "svg", "svgz": return "SVG"
        case "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2", "raf", "pef", "srw", "x3f", "raw", "rwl", "3fr", "iiq", "erf", "kdc", "mrw", "mos":
            return "camera raw"
        case "xcf": return "GIMP XCF"
        case "dds": return "DDS"
        case "pcx": return "PCX"
        default: return nil
        }
    }
}
