import AtomicFiles
import Foundation

/// Convert's and watch's outputs, reports and error files through `AtomicFile`, with their
/// errors worded for a conversion: a taken name says which flag replaces or keeps it.
public enum AtomicWriter {
    public typealias Mode = AtomicFile.Mode

    /// - Parameter createFolder: make the file's folder (and those above it) when missing.
    public static func write(_ data: Data, to url: URL, mode: Mode, createFolder: Bool = true) throws {
        do { try AtomicFile.write(data, to: url, mode: mode, createFolder: createFolder) } catch {
            switch error.code {
            case .exists:
                throw PipelineError(.outputExists, "\(url.path): already exists (use --overwrite to replace it or --skip-existing to keep it)", cause: error)
            case .write:
                throw PipelineError(.writeFailed, "\(error)", cause: error)
            }
        }
    }

    /// Deletes temporary files left in `root` by Gantry processes that no longer run.
    @discardableResult
    public static func removeStaleTemporaries(under root: URL) -> Int { AtomicFile.removeStaleTemporaries(under: root) }
}
