import AtomicFiles
import Foundation
import Imaging

/// An input decoded and prepared for the generator.
struct DecodedItem {
    var item: ConvertItem
    var prepared: PreparedImage
    var result: ItemResult
}

/// Stage 1: read a file, decode it (orientation applied, bombs refused from the header) and
/// normalise it for the generator. A file that cannot be used comes back as its failed result.
struct DecodeStage: Sendable {
    let conversion: ItemConversion
    var configuration: ConversionPlan { conversion.configuration }

    func callAsFunction(_ item: ConvertItem) -> Result<DecodedItem, ItemResultFailure> {
        var result = ItemResult(input: item.input.path, output: item.output.path, status: .failed)
        if Self.sameFile(item.input, item.output) {
            // Not even with --overwrite: the photo itself would be lost.
            result.error = "\(item.input.path): the output would replace its own input; write to another folder or name"
            return .failure(ItemResultFailure(result: result))
        }
        if FileManager.default.fileExists(atPath: item.output.path) && !configuration.overwrite {
            if configuration.skipExisting {
                result.status = .skipped
                result.error = "output exists"
            } else {
                result.error = "\(item.output.path): already exists (use --overwrite to replace it or --skip-existing to keep it)"
            }
            return .failure(ItemResultFailure(result: result))
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            let prepared = try conversion.decode(item.input.path)
            result.width = prepared.content.width
            result.height = prepared.content.height
            if prepared.pageCount > 1 { result.note = "multi-page file (\(prepared.pageCount) pages): converted the first page" }
            result.decodeMilliseconds = milliseconds(since: t0)
            return .success(DecodedItem(item: item, prepared: prepared, result: result))
        } catch let e as ImageError {
            result.error = e.description
            // An input the disk cannot read now (EIO, a stale handle, no descriptors left) is
            // left for a rerun, and stops the run as an output-side fault does.
            if let fault = TransientFault.find(in: e) {
                result.fault = fault
                result.status = .notDone
            }
        } catch {
            result.error = "\(item.input.path): \(error)"
        }
        return .failure(ItemResultFailure(result: result))
    }
}

extension DecodeStage {
    /// Whether two paths name one file (the same device and inode: hard links and symlinks too).
    static func sameFile(_ a: URL, _ b: URL) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a.path, &sa) == 0, stat(b.path, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}

/// A result that ends an item's way through the pipeline early (skipped or failed).
struct ItemResultFailure: Error {
    var result: ItemResult
}
