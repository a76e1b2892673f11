import Checkpoints
import Engine
import Foundation

/// What loading did to make a checkpoint fit, for `gantry inspect` and logs.
public struct LoadReport: Sendable {
    /// Normalisations applied by the reader and the loader, e.g. "stripped 'module.' prefix from 48 keys".
    public var notes: [String]
    /// Facts assumed rather than read from the keys.
    public var assumptions: [String]
}

extension Generator {
    /// Detects the architecture of `checkpoint`, builds the network and loads the weights
    /// strictly: every key the network needs must be present with its shape, and no key may be
    /// left over, after the same normalisations the reference loader applies.
    public static func load(_ checkpoint: Checkpoint,
                            overrides: ArchitectureDetection.Overrides = .init()) throws -> (Generator, LoadReport) {
        let detected = try ArchitectureDetection.detect(checkpoint.stateDict, overrides: overrides)
        // Sizes come from the file (or flags): bound the network by what the file holds before
        // allocating it. Every weight must come from the file, so a network needing more values
        // than the file has cannot load anyway.
        try detected.architecture.validate()
        let needed = try detected.architecture.convolutionWeightCount()
        let held = checkpoint.stateDict.reduce(0) { $0 + $1.tensor.count }
        guard needed <= held else {
            let hint = overrides.isEmpty ? "" : " (with the architecture overrides given)"
            throw ModelError(.architectureMismatch,
                "does not fit \(detected.architecture)\(hint): its convolutions need \(needed) weights but the file holds only \(held) values")
        }
        let generator = try Generator(detected.architecture)
        var notes = checkpoint.notes
        var sd = checkpoint.stateDict
        let expected = generator.root.namedTensors()
        let expectedByKey = Dictionary(expected.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })

        // 2017–18 CycleGAN files carry InstanceNorm running statistics that today's layers
        // (track_running_stats=False) do not have; the reference drops them at load time too.
        var dropped = 0
        for key in sd.keys where expectedByKey[key] == nil {
            if let stat = ["running_mean", "running_var", "num_batches_tracked"].first(where: { key.hasSuffix("." + $0) }),
               let norm = generator.root.module(at: String(key.dropLast(stat.count + 1))) as? Norm2d,
               case .instance = norm.kind {
                _ = sd.removeValue(forKey: key)
                dropped += 1
            }
        }
        if dropped > 0 { notes.append("dropped \(dropped) InstanceNorm running-statistics entries (2018-era checkpoint; unused by the network)") }

        var missing: [String] = [], mismatched: [String] = [], filled = 0
        for entry in expected {
            guard let t = sd[entry.key] else {
                if entry.isOptional { filled += 1 } else { missing.append(entry.key) }
                continue
            }
            if t.shape != entry.value.shape {
                mismatched.append("\(entry.key): file \(formatShape(t.shape)), network \(formatShape(entry.value.shape))")
            }
        }
        let unexpected = sd.keys.filter { expectedByKey[$0] == nil }
        if !missing.isEmpty || !unexpected.isEmpty || !mismatched.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) key(s): \(list(missing))") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count) key(s): \(list(unexpected))") }
            if !mismatched.isEmpty { parts.append("\(mismatched.count) shape mismatch(es): \(list(mismatched))") }
            let hint = overrides.isEmpty ? "" : " (with the architecture overrides given)"
            throw ModelError(.architectureMismatch,
                "does not fit \(detected.architecture)\(hint): " + parts.joined(separator: "; "))
        }
        let nonFinite = expected.reduce(0) { total, entry in
            total + (sd[entry.key]?.values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } ?? 0)
        }
        if nonFinite > 0 { notes.append("\(nonFinite) weight value(s) are NaN or infinite: conversions will fail with this checkpoint") }
        if filled > 0 { notes.append("filled \(filled) missing num_batches_tracked entries (pre-0.4.1 checkpoint)") }

        for entry in expected {
            guard let t = sd[entry.key] else { continue }
            _ = generator.root.assign(entry.key[...], try Tensor(shape: t.shape, values: t.values))
        }
        return (generator, LoadReport(notes: notes, assumptions: detected.assumptions))
    }

    /// Reads a checkpoint file and loads it (see `load(_:overrides:)`).
    public static func load(contentsOf url: URL, overrides: ArchitectureDetection.Overrides = .init()) throws -> (Generator, LoadReport) {
        try load(Checkpoint.load(contentsOf: url), overrides: overrides)
    }
}

private func formatShape(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }

private func list(_ items: [String], limit: Int = 6) -> String {
    items.count <= limit ? items.joined(separator: ", ")
        : items.prefix(limit).joined(separator: ", ") + ", … (\(items.count - limit) more)"
}

extension Module {
    /// The sub-module at a dotted path such as `model.10.conv_block.2`.
    public func module(at path: String) -> Module? {
        var current: Module = self
        for part in path.split(separator: ".") {
            guard let next = current.children.first(where: { $0.name == part })?.module else { return nil }
            current = next
        }
        return current
    }
}
