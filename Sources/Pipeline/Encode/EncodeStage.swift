import Foundation
import Imaging
import Models

/// Stage 3: output tensor → 8-bit image → PNG/JPEG bytes → a file that appears only when complete.
struct EncodeStage: Sendable {
    let configuration: ConvertConfiguration
    let family: GeneratorArchitecture.Family

    func callAsFunction(_ work: InferredItem) -> ItemResult {
        var result = work.result
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            let image = Postprocessor.image(from: work.output, batchIndex: work.index, prepared: work.prepared,
                                            quantization: .init(for: family))
            let ext = work.item.output.pathExtension.lowercased()
            let format: ImageFormat = ext == "jpg" || ext == "jpeg" || ext == "jpe" ? .jpeg : .png
            let data = try ImageCodec.encode(image, as: format, quality: configuration.quality, path: work.item.output.path)
            try AtomicWriter.write(data, to: work.item.output, mode: configuration.overwrite ? .replace : .createNew)
            result.status = .converted
            result.encodeMilliseconds = milliseconds(since: t0)
        } catch {
            result.status = .failed
            result.error = "\(error)"
        }
        return result
    }
}
