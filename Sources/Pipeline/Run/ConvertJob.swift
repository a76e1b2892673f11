import AtomicFiles
import Engine
import Foundation
import Imaging
import Models

/// The conversion pipeline: decode → normalise → generator → encode as concurrent stages joined
/// by bounded queues, like the load/proc/save threads of the ncnn tools.
///
/// Every image is computed alone (per-image statistics, streamed when it exceeds the budget), so
/// the output does not depend on `--jobs`, `--batch` or `--memory-limit`.
public final class ConvertJob: @unchecked Sendable {
    public let generator: Generator
    public let configuration: ConversionPlan
    public let conversion: ItemConversion
    private let observer: ConvertObserver?
    private let cancelled = AtomicFlag()

    public init(generator: Generator, configuration: ConversionPlan, observer: ConvertObserver?) {
        self.generator = generator
        self.configuration = configuration
        self.observer = observer
        conversion = ItemConversion(architecture: generator.architecture, configuration: configuration)
    }

    /// Stops taking new inputs; images already decoded are finished.
    public func cancel() { cancelled.set() }

    /// oneDNN as the plan says: its algorithm, its threads split evenly between the inference workers.
    public func run(_ items: [ConvertItem]) throws -> ConvertSummary {
        try run(items) { try configuration.makeBackend() }
    }

    /// Converts `items` with one backend from `makeBackend` per inference worker (any
    /// `ConvolutionBackend`, as `watch` takes).
    public func run(_ items: [ConvertItem], makeBackend: () throws -> ConvolutionBackend) throws -> ConvertSummary {
        let start = DispatchTime.now().uptimeNanoseconds
        let c = configuration
        c.applyProcessLimits()
        let runners = try (0..<c.jobs.process).map { _ in
            GeneratorRunner(generator: generator, configuration: c, backend: try makeBackend(), workers: c.jobs.process)
        }
        let decode = DecodeStage(conversion: conversion)
        let infer = runners.map { InferenceStage(runner: $0) }
        let encode = EncodeStage(conversion: conversion)
        let toInfer = BoundedQueue<DecodedItem>(capacity: 2 * max(c.batch, c.jobs.process))
        let toSave = BoundedQueue<InferredItem>(capacity: 2 * c.jobs.save)
        let next = AtomicCounter()
        let tally = Tally()
        let report: @Sendable (ItemResult) -> Void = { [self, observer] r in
            // The first transient fault on the output side stops the run: images in flight are
            // finished (or left not done), no new one is taken.
            if let fault = r.fault, tally.stop(for: fault) { cancel() }
            tally.add(r)
            observer?.finished(r)
        }

        let loaders = spawn(c.jobs.load, name: "gantry-decode") { [self] _ in
            while !cancelled.isSet {
                let i = next.next()
                guard i < items.count else { break }
                switch decode(items[i]) {
                case .success(let d): toInfer.put(d)
                case .failure(let f): report(f.result)
                }
            }
        }
        let processors = spawn(c.jobs.process, name: "gantry-infer") { worker in
            while let first = toInfer.take() {
                var batch = [first]
                let shape = first.prepared.tensor.shape
                while batch.count < c.batch, let more = toInfer.take(if: { $0.prepared.tensor.shape == shape }) {
                    batch.append(more)
                }
                switch infer[worker](batch) {
                case .success(let done): done.forEach { toSave.put($0) }
                case .failure(let f): f.results.forEach(report)
                }
            }
        }
        let savers = spawn(c.jobs.save, name: "gantry-encode") { _ in
            while let work = toSave.take() { report(encode(work)) }
        }
        loaders()
        toInfer.close()
        processors()
        toSave.close()
        savers()

        // What a stop left untouched is reported too, so the report says what was not done.
        if cancelled.isSet {
            let fault = tally.summary.fault
            for item in items where !tally.reported(item.input.path) {
                report(ItemResult(input: item.input.path, output: item.output.path, status: .notDone,
                                  error: fault.map { "not started: the run stopped at \($0)" } ?? "not started: the run was interrupted"))
            }
        }
        var summary = tally.summary
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        summary.interrupted = cancelled.isSet && summary.fault == nil
        return summary
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
    private var inputs: Set<String> = []
    private let lock = NSLock()

    func add(_ r: ItemResult) {
        lock.withLock {
            inputs.insert(r.input)
            switch r.status {
            case .converted: s.converted += 1
            case .skipped: s.skipped += 1
            case .failed: s.failed += 1
            case .notDone: s.notDone += 1
            }
        }
    }

    /// Records the run's first fault; true for that first one only.
    func stop(for fault: TransientFault) -> Bool {
        lock.withLock {
            guard s.fault == nil else { return false }
            s.fault = fault
            return true
        }
    }

    func reported(_ input: String) -> Bool { lock.withLock { inputs.contains(input) } }

    var summary: ConvertSummary { lock.withLock { s } }
}
