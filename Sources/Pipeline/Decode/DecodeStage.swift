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
    var configuration: ConvertConfiguration { conversion.configuration }

    func callAsFunction(_ item: ConvertItem) -> Result<DecodedItem, ItemResultFailure> {
        var result = ItemResult(input: item.input.path, output: item.output.path, status: .failed)
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
            result.decodeMilliseconds = milliseconds(since: t0)
            return .success(DecodedItem(item: item, prepared: prepared, result: result))
        } catch let e as ImageError {
            result.error = e.description
        } catch {
            result.error = "\(item.input.path): \(error)"
        }
        return .failure(ItemResultFailure(result: result))
    }
}

/// A result that ends an item's way through the pipeline early (skipped or failed).
struct ItemResultFailure: Error {
    var result: ItemResult
}
