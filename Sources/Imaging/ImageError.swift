import AtomicFiles
import Foundation

/// Why an image could not be read or written.
///
/// Every failure of `ImageCodec` is one of these, never a crash and never a partially
/// decoded image. `description` is a single line meant to be shown to the user as is.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    /// Broad category of the failure, stable enough to branch on.
    public enum Code: String, Sendable {
        /// The file could not be opened or read.
        case unreadable
        /// The file has zero bytes.
        case empty
        /// The content is not an image at all (text, HTML, an archive, …).
        case notAnImage
        /// An image in a format Gantry does not read (GIF, BMP, HEIC, AVIF, …), or a variant
        /// of a format it reads that it does not support (12-bit or lossless JPEG, animated
        /// WebP, floating-point TIFF, …).
        case unsupportedFormat
        /// The file ends before the image it announces.
        case truncated
        /// The data is damaged: bad checksums, invalid structure, corrupt compressed data.
        case corrupt
        /// The declared size exceeds `DecodeLimits` (e.g. a decompression bomb),
        /// or an image is too large for the output format.
        case tooLarge
        /// A zero (or otherwise impossible) width or height, or samples that do not
        /// match the stated size when encoding.
        case invalidSize
    }

    /// Broad category of the failure.
    public let code: Code
    /// The file the error is about.
    public let path: String
    /// What is wrong, on one line.
    public let message: String
    /// The system's error under an `unreadable` file when a retry may cure it (an I/O error, a
    /// stale handle, descriptors or memory run out: `TransientFault.inputCodes`); nil otherwise.
    public var errno: Int32?

    /// Creates an error; line breaks in `message` (libpng and libjpeg put some in theirs)
    /// are folded into spaces so that `description` stays one line.
    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = Self.singleLine(message)
    }

    /// One line: `<path>: <what is wrong>`.
    public var description: String {
        let where_ = Self.singleLine(path)
        return where_.isEmpty ? message : "\(where_): \(message)"
    }

    static func singleLine(_ text: String) -> String {
        let pieces = text.split(whereSeparator: { $0.isNewline || $0 == "\t" })
        return pieces.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

extension ImageError: CausedError {
    /// The system error a transient read failure carries (`TransientFault.find` looks here).
    public var underlyingError: (any Error)? { errno.flatMap(POSIXErrorCode.init(rawValue:)).map { POSIXError($0) } }
    public var faultPath: String? { path }
}

/// A failure found by code that works on bytes and does not know the file name;
/// `ImageCodec` attaches the path.
struct ImageFailure: Error {
    let code: ImageError.Code
    let message: String

    init(_ code: ImageError.Code, _ message: String) {
        self.code = code
        self.message = message
    }

    func at(_ path: String) -> ImageError {
        ImageError(code: code, path: path, message: message)
    }
}
