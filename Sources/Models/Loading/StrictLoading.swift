import Checkpoints
import Engine

/// The loading rules every network shares: a checkpoint must fit the network exactly, after the
/// same normalisations the reference loader applies.
extension Module {
    /// Copies `sd` into this network's tensors, in place, and returns notes on what was
    /// normalised. Every key the network needs must be present with its shape, and no key may
    /// be left over; `network` names the architecture in the error.
    public func loadStrictly(_ stateDict: StateDict, network: String) throws -> [String] {
        var notes: [String] = []
        var sd = stateDict
        let expected = namedTensors()
        let expectedByKey = Dictionary(expected.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })

        // 2017–18 CycleGAN files carry InstanceNorm running statistics that today's layers
        // (track_running_stats=False) do not have; the reference drops them at load time too.
        var dropped = 0
        for key in sd.keys where expectedByKey[key] == nil {
            if let stat = ["running_mean", "running_var", "num_batches_tracked"].first(where: { key.hasSuffix("." + $0) }),
               let norm = module(at: String(key.dropLast(stat.count + 1))) as? Norm2d,
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
            throw ModelError(.architectureMismatch, "does not fit \(network): " + parts.joined(separator: "; "))
        }
        let nonFinite = expected.reduce(0) { total, entry in
            total + (sd[entry.key]?.values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } ?? 0)
        }
        if nonFinite > 0 { notes.append("\(nonFinite) weight value(s) are NaN or infinite: conversions will fail with this checkpoint") }
        if filled > 0 { notes.append("filled \(filled) missing num_batches_tracked entries (pre-0.4.1 checkpoint)") }

        // In place: whoever already holds a handle to a weight (an optimizer) sees the new values.
        for entry in expected {
            guard let t = sd[entry.key], t.values.count == entry.value.count else { continue }
            entry.value.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: t.values) }
        }
        return notes
    }

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

/// Refuses a network that needs far more convolution weights than the file holds values, before
/// allocating it: every weight must come from the file, so such a network could not load anyway.
/// Up to twice the file's values is let through (the allocation stays bounded by the file), so
/// a file with a few wrong shapes gets strict loading's message naming the keys.
func checkFileCanFill(_ network: String, needing needed: Int, from sd: StateDict) throws {
    let held = sd.reduce(0) { $0 + $1.tensor.count }
    guard needed / 2 <= held else {
        throw ModelError(.architectureMismatch,
            "does not fit \(network): its convolutions need \(needed) weights but the file holds only \(held) values")
    }
}

func formatShape(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }

func list(_ items: [String], limit: Int = 6) -> String {
    items.count <= limit ? items.joined(separator: ", ")
        : items.prefix(limit).joined(separator: ", ") + ", … (\(items.count - limit) more)"
}
