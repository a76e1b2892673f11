import Engine
import Foundation
import Imaging
import Models

/// The conversion pipeline: decode → normalise → generator → encode as concurrent stages joined
/// by bounded queues, like the load/proc/save threads of the ncnn tools.
///
/// Every image is computed alone (per-image statistics, its own tiles), so the output does not
/// depend on `--jobs` or `--batch`.
public final class ConvertJob: @unchecked Sendable {
    public let generator: Generator
    public let configuration: ConvertConfiguration
    public let preprocessor: Preprocessor
    private let observer: ConvertObserver?
    private let cancelled = AtomicFlag()

    public init(generator: Generator, configuration: ConvertConfiguration, observer: ConvertObserver?) {
        self.generator = generator
        self.configuration = configuration
        self.observer = observer
        preprocessor = Preprocessor(policy: configuration.preprocess, maxSide: configuration.maxSide,
                                    architecture: generator.architecture)
    }

    /// Stops taking new inputs; images already decoded are finished.
    public func cancel() { cancelled.set() }

    private struct Decoded {
        var item: ConvertItem
        var prepared: PreparedImage
        var result: ItemResult
    }

    private struct Inferred {
        var item: ConvertItem
        var prepared: PreparedImage
        var output: Tensor
        var index: Int
        var result: ItemResult
    }

    public func run(_ items: [ConvertItem], threads: Int? = nil, algorithm: DNNLBackend.Algorithm = .winograd) throws -> ConvertSummary {
        let start = DispatchTime.now().uptimeNanoseconds
        let c = configuration
        let cores = threads ?? ProcessInfo.processInfo.activeProcessorCount
        BufferPool.shared.idleLimit = c.memory.poolShare
        let runners = try (0..<c.jobs.process).map { _ in
            GeneratorRunner(generator: generator, settings: c.settings,
                            backend: try DNNLBackend(algorithm: algorithm, threads: max(1, cores / c.jobs.process)),
                            pixelLimit: c.memory.pixelLimit(for: generator.architecture, parameterCount: generator.parameterCount) / c.jobs.process)
        }
        let toInfer = BoundedQueue<Decoded>(capacity: 2 * max(c.batch, c.jobs.process))
        let toSave = BoundedQueue<Inferred>(capacity: 2 * c.jobs.save)
        let next = AtomicCounter()
        let tally = Tally()
        let report: @Sendable (ItemResult) -> Void = { [observer] r in
            tally.add(r.status)
            observer?.finished(r)
        }

        let loaders = spawn(c.jobs.load, name: "gantry-decode") { [self] _ in
            while !cancelled.isSet {
                let i = next.next()
                guard i < items.count else { break }
                if let d = decode(items[i], report: report) { toInfer.put(d) }
            }
        }
        let processors = spawn(c.jobs.process, name: "gantry-infer") { [self] worker in
            while let first = toInfer.take() {
                var batch = [first]
                let shape = first.prepared.tensor.shape
                while batch.count < c.batch, let more = toInfer.take(if: { $0.prepared.tensor.shape == shape }) {
                    batch.append(more)
                }
                infer(batch, runner: runners[worker], report: report).forEach { toSave.put($0) }
            }
        }
        let savers = spawn(c.jobs.save, name: "gantry-encode") { [self] _ in
            while let work = toSave.take() { report(encode(work)) }
        }
        loaders()
        toInfer.close()
        processors()
        toSave.close()
        savers()

        var summary = tally.summary
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        summary.interrupted = cancelled.isSet
        return summary
    }

    private func decode(_ item: ConvertItem, report: (ItemResult) -> Void) -> Decoded? {
        var result = ItemResult(input: item.input.path, output: item.output.path, status: .failed)
        let fm = FileManager.default
        if fm.fileExists(atPath: item.output.path) && !configuration.overwrite {
            if configuration.skipExisting {
                result.status = .skipped
                result.error = "output exists"
            } else {
                result.error = "\(item.output.path): already exists (use --overwrite to replace it or --skip-existing to keep it)"
            }
            report(result)
            return nil
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            let data: Data
            do {
                data = try Data(contentsOf: item.input, options: .mappedIfSafe)
            } catch {
                throw ImageError(code: .unreadable, path: item.input.path, message: "cannot read (\(describe(error)))")
            }
            let image = try ImageCodec.decode(data, path: item.input.path, limits: configuration.decodeLimits)
            let prepared = try preprocessor.prepare(image)
            result.width = prepared.content.width
            result.height = prepared.content.height
            result.decodeMilliseconds = milliseconds(since: t0)
            return Decoded(item: item, prepared: prepared, result: result)
        } catch let e as ImageError {
            result.error = e.description
        } catch {
            result.error = "\(item.input.path): \(error)"
        }
        report(result)
        return nil
    }

    private func infer(_ batch: [Decoded], runner: GeneratorRunner, report: (ItemResult) -> Void) -> [Inferred] {
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            let input: Tensor
            if batch.count == 1 {
                input = batch[0].prepared.tensor
            } else {
                let shape = batch[0].prepared.tensor.shape
                input = Tensor(uninitialized: [batch.count] + shape.dropFirst())
                let per = batch[0].prepared.tensor.count
                for (i, d) in batch.enumerated() {
                    (input.storage.pointer + i * per).update(from: d.prepared.tensor.storage.pointer, count: per)
                }
            }
            let (_, _, h, w) = input.nchw
            let tiled = runner.needsTiling(width: w, height: h)
            let output = try runner.run(input)
            let ms = milliseconds(since: t0) / Double(batch.count)
            return batch.enumerated().map { i, d in
                var r = d.result
                r.inferenceMilliseconds = ms
                r.tiled = tiled
                return Inferred(item: d.item, prepared: d.prepared, output: output, index: i, result: r)
            }
        } catch {
            for d in batch {
                var r = d.result
                r.error = "\(d.item.input.path): \(error)"
                report(r)
            }
            return []
        }
    }

    private func encode(_ work: Inferred) -> ItemResult {
        var result = work.result
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            let image = Postprocessor.image(from: work.output, batchIndex: work.index, prepared: work.prepared,
                                            quantization: .init(for: generator.architecture.family))
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

/// A flag set once from any thread.
final class AtomicFlag: @unchecked Sendable {
    private var value = false
    private let lock = NSLock()
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.withLock { defer { value += 1 }; return value } }
}

private final class Tally: @unchecked Sendable {
    private var s = ConvertSummary()
    private let lock = NSLock()

    func add(_ status: ItemResult.Status) {
        lock.withLock {
            switch status {
            case .converted: s.converted += 1
            case .skipped: s.skipped += 1
            case .failed: s.failed += 1
            }
        }
    }

    var summary: ConvertSummary { lock.withLock { s } }
}
