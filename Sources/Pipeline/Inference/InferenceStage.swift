import Engine
import Foundation

/// An input with the generator's output for it (`output` may hold a whole batch; `index` picks it).
struct InferredItem {
    var item: ConvertItem
    var prepared: PreparedImage
    var output: Tensor
    var index: Int
    var result: ItemResult
}

/// Stage 2: the generator, on a batch of same-size inputs (streamed when an image exceeds the budget).
struct InferenceStage: @unchecked Sendable {
    let runner: GeneratorRunner

    func callAsFunction(_ batch: [DecodedItem]) -> Result<[InferredItem], ItemResultsFailure> {
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            let input = try Tensor(stacking: batch.map(\.prepared.tensor))
            let (_, _, h, w) = input.nchw
            let streamed = runner.needsStreaming(width: w, height: h)
            let output = try runner.run(input)
            let ms = milliseconds(since: t0) / Double(batch.count)
            return .success(batch.enumerated().map { i, d in
                var r = d.result
                r.inferenceMilliseconds = ms
                r.streamed = streamed
                return InferredItem(item: d.item, prepared: d.prepared, output: output, index: i, result: r)
            })
        } catch {
            return .failure(ItemResultsFailure(results: batch.map { d in
                var r = d.result
                r.error = "\(d.item.input.path): \(error)"
                return r
            }))
        }
    }
}

struct ItemResultsFailure: Error {
    var results: [ItemResult]
}
