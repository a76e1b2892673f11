import CTIFF
import Foundation

/// One libtiff handle over bytes in memory (`TIFFClientOpenExt` with the read/seek/size procs
/// of `CTIFF/shim.h`; never a temporary file), with error and warning handlers of its own.
///
/// libtiff's process-wide handlers print to stderr and are shared by every thread, so each
/// handle gets per-handle handlers through `TIFFOpenOptions` (libtiff 4.5), which keep the
/// first error for the `ImageFailure` and print nothing. A handle is used by one call on one
/// thread and closed before that call returns; calls on different threads share nothing.
final class TIFFHandle {
    let tif: OpaquePointer
    private let file: UnsafeMutablePointer<GantryTIFFFile>

    /// Messages libtiff reports without a handle go to the global handlers: none of ours should,
    /// but if one does it is dropped rather than printed. Run once, before the first open.
    private static let globalsSilenced: Void = gantry_tiff_silence_globals()

    private init(tif: OpaquePointer, file: UnsafeMutablePointer<GantryTIFFFile>) {
        self.tif = tif
        self.file = file
    }

    /// Runs `body` with `bytes` open for reading. libtiff allocates at most `maxAllocation`
    /// bytes at once for this file (strip and tag buffers; the pixel buffers are ours).
    static func reading<T>(
        _ bytes: Bytes, maxAllocation: Int, _ body: (TIFFHandle) throws(ImageFailure) -> T
    ) throws(ImageFailure) -> T {
        _ = globalsSilenced
        let result: Result<T, ImageFailure> = bytes.data.withUnsafeBytes { raw in
            let file = UnsafeMutablePointer<GantryTIFFFile>.allocate(capacity: 1)
            file.initialize(to: GantryTIFFFile())
            defer { file.deallocate() }
            file.pointee.data = raw.bindMemory(to: UInt8.self).baseAddress
            file.pointee.size = UInt64(raw.count)
            // "m": no memory mapping; libtiff reads through the procs, which bound every read.
            guard let tif = gantry_tiff_open(file, "rm", tmsize_t(maxAllocation)) else {
                return .failure(openFailure(file))
            }
            let handle = TIFFHandle(tif: tif, file: file)
            defer { TIFFClose(tif) }
            do throws(ImageFailure) {
                return .success(try body(handle))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Writes a TIFF into memory: `body` sets the tags and writes the strips, then the
    /// directory is written and the bytes returned. `limit` bounds the output size.
    static func writing(limit: Int, bigTIFF: Bool, _ body: (TIFFHandle) throws(ImageFailure) -> Void) throws(ImageFailure) -> Data {
        _ = globalsSilenced
        let file = UnsafeMutablePointer<GantryTIFFFile>.allocate(capacity: 1)
        file.initialize(to: GantryTIFFFile())
        file.pointee.limit = UInt64(limit)
        defer {
            free(file.pointee.buffer)
            file.deallocate()
        }
        guard let tif = gantry_tiff_open(file, bigTIFF ? "w8" : "w", 0) else {
            throw ImageFailure(.corrupt, "could not start the TIFF encoder: \(message(file) ?? "libtiff refused")")
        }
        let handle = TIFFHandle(tif: tif, file: file)
        do throws(ImageFailure) {
            try body(handle)
            guard TIFFWriteDirectory(tif) != 0 else { throw handle.writeFailure() }
        } catch {
            TIFFClose(tif)
            throw error
        }
        TIFFClose(tif)
        guard file.pointee.errors == 0, let buffer = file.pointee.buffer else {
            throw ImageFailure(.corrupt, "could not encode TIFF: \(message(file) ?? "no output")")
        }
        return Data(bytes: buffer, count: Int(file.pointee.size))
    }

    /// How many errors libtiff has reported for this handle so far.
    var errorCount: Int32 { file.pointee.errors }

    private static func message(_ file: UnsafeMutablePointer<GantryTIFFFile>) -> String? {
        guard file.pointee.errors > 0 else { return nil }
        let text = withUnsafeBytes(of: file.pointee.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return text.isEmpty ? nil : text
    }

    /// What libtiff said, as a truncated or corrupt file. libtiff has no error codes, so the
    /// kind comes from its wording: running out of data is reported as a failed read or seek.
    func failure(_ context: String) -> ImageFailure {
        Self.classify(Self.message(file), context: context)
    }

    /// A failure while writing, with libtiff's reason.
    func writeFailure() -> ImageFailure {
        ImageFailure(.corrupt, "could not encode TIFF: \(Self.message(file) ?? "libtiff gave no reason")")
    }

    private static func openFailure(_ file: UnsafeMutablePointer<GantryTIFFFile>) -> ImageFailure {
        classify(message(file), context: "TIFF is unreadable")
    }

    static let truncationWords = [
        "cannot read", "can not read", "read error", "seek error", "not enough data", "premature",
        "unexpected end", "past end", "end of file", "eof",
    ]

    private static func classify(_ message: String?, context: String) -> ImageFailure {
        guard let message else { return ImageFailure(.corrupt, "\(context): libtiff gave no reason") }
        let lower = message.lowercased()
        if lower.contains("sorry") || lower.contains("not supported") || lower.contains("not configured") {
            return ImageFailure(.unsupportedFormat, "TIFF variant is not supported: \(message)")
        }
        if lower.contains("memory") && (lower.contains("limit") || lower.contains("exceed")) {
            return ImageFailure(.tooLarge, "TIFF needs more memory than allowed: \(message)")
        }
        // libtiff refuses a zero width or height while reading the directory, in these words.
        if lower.contains("zero") && ["scanline size", "width", "length", "image size"].contains(where: lower.contains) {
            return ImageFailure(.invalidSize, "TIFF declares a zero size: \(message)")
        }
        if truncationWords.contains(where: lower.contains) {
            return ImageFailure(.truncated, "TIFF is truncated: \(message)")
        }
        return ImageFailure(.corrupt, "TIFF is corrupt: \(message)")
    }

    // Typed tag access; the C wrappers apply libtiff's defaults where the tag has one.

    func u16(_ tag: Int32) -> UInt16? {
        var value: UInt16 = 0
        return gantry_tiff_get_u16(tif, UInt32(tag), &value) != 0 ? value : nil
    }

    func u32(_ tag: Int32) -> UInt32? {
        var value: UInt32 = 0
        return gantry_tiff_get_u32(tif, UInt32(tag), &value) != 0 ? value : nil
    }

    /// The ExtraSamples types (0 unspecified, 1 associated alpha, 2 unassociated alpha).
    func extraSamples() -> [UInt16] {
        var count: UInt16 = 0
        var types: UnsafePointer<UInt16>?
        guard gantry_tiff_get_extra_samples(tif, &count, &types) != 0, let types else { return [] }
        return Array(UnsafeBufferPointer(start: types, count: Int(count)))
    }

    /// Red, green and blue tables of `entries` 16-bit values each, or nil if missing.
    func colormap(entries: Int) -> (r: [UInt16], g: [UInt16], b: [UInt16])? {
        var r: UnsafePointer<UInt16>?, g: UnsafePointer<UInt16>?, b: UnsafePointer<UInt16>?
        guard gantry_tiff_get_colormap(tif, &r, &g, &b) != 0, let r, let g, let b else { return nil }
        let table = { (p: UnsafePointer<UInt16>) in Array(UnsafeBufferPointer(start: p, count: entries)) }
        return (table(r), table(g), table(b))
    }

    func iccProfile() -> Data? {
        var count: UInt32 = 0
        var bytes: UnsafeRawPointer?
        guard gantry_tiff_get_icc(tif, &count, &bytes) != 0, let bytes, count > 0 else { return nil }
        return Data(bytes: bytes, count: Int(count))
    }

    func set(_ tag: Int32, u16 value: UInt16) -> Bool { gantry_tiff_set_u16(tif, UInt32(tag), value) != 0 }

    func set(_ tag: Int32, u32 value: UInt32) -> Bool { gantry_tiff_set_u32(tif, UInt32(tag), value) != 0 }
}
