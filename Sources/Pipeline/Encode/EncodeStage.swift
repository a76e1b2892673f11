import AtomicFiles
import Foundation
import Imaging
import Models

/// Stage 3: output tensor → 8-bit image → PNG/JPEG bytes → a file that appears only when complete.
struct EncodeStage: Sendable {
    let conversion: ItemConversion

    func callAsFunction(_ work: InferredItem) -> ItemResult {
        var result = work.result
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            let data = try conversion.encode(work.output, batchIndex: work.index, prepared: work.prepared,
                                             as: OutputFormat.imageFormat(forOutput: work.item.output), path: work.item.output.path)
            try AtomicWriter.write(data, to: work.item.output, mode: conversion.configuration.overwrite ? .replace : .createNew)
            result.status = .converted
            result.encodeMilliseconds = milliseconds(since: t0)
        } catch {
            // A full disk or an I/O error is no fault of the image: it is left for a rerun.
            result.fault = TransientFault.find(in: error)
            result.status = result.fault == nil ? .failed : .notDone
            result.error = "\(error)"
        }
        return result
    }
}
