import Checkpoints
import Engine
import Foundation
import Models

/// One step of a reference training recipe as PyTorch computed it
/// (`tools/fixtures/make_training_fixtures.py` → `Tests/Fixtures/training/<name>.safetensors`).
public struct TrainingFixture {
    public let tensors: [String: Tensor]

    public init(_ name: String) throws {
        let file = try Checkpoint.load(contentsOf: fixturesDirectory.appendingPathComponent("training/\(name).safetensors"))
        var out: [String: Tensor] = [:]
        for key in file.stateDict.keys {
            let t = file.stateDict[key]!
            out[key] = try Tensor(shape: t.shape, values: t.values)
        }
        tensors = out
    }

    public subscript(_ key: String) -> Tensor {
        guard let t = tensors[key] else { preconditionFailure("fixture has no tensor \(key)") }
        return t
    }

    public func scalar(_ key: String) -> Double { Double(self[key].values[0]) }

    /// Copies every `prefix.<state_dict key>` tensor into `module`'s own tensors, in place (so
    /// parameter leaves stay valid). Returns how many were copied.
    @discardableResult
    public func load(_ module: Module, prefix: String) -> Int {
        var copied = 0
        for (key, value, _, _) in module.namedTensors() {
            guard let t = tensors["\(prefix).\(key)"] else { continue }
            value.assign(from: t)
            copied += 1
        }
        return copied
    }

    /// The float32 run's relative L2 distance to the float64 truth for `key` (rounding noise).
    public func noise(_ key: String) -> Double { scalar("noise.\(key)") }
}

/// How a gradient compares with PyTorch's float64 one: relative L2 when the truth is non-zero;
/// for a gradient that is zero in exact arithmetic (a conv bias just before an instance norm),
/// the norm of what was computed relative to the network's largest gradient (pure rounding).
public struct GradientComparison: CustomStringConvertible {
    public let key: String
    public let relativeError: Double
    public let structurallyZero: Bool

    public init(key: String, ours: Tensor, truth: Tensor, networkScale: Double) {
        self.key = key
        let truthNorm = l2(truth.values)
        structurallyZero = truthNorm <= 1e-7 * networkScale
        relativeError = structurallyZero ? l2(ours.values) / networkScale : relativeL2(ours.values, truth.values)
    }

    public var description: String { "\(key): \(structurallyZero ? "zero-gradient, |ours|/scale" : "rel L2") \(relativeError)" }
}

public func l2(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

/// Keys whose tensors differ, bit for bit, between two checkpoint files (keys present in only one
/// of them included): empty when a continued run ended exactly where an uninterrupted one did.
public func differingTensors(_ a: URL, _ b: URL) throws -> [String] {
    let x = try Checkpoint.load(contentsOf: a).stateDict, y = try Checkpoint.load(contentsOf: b).stateDict
    return Set(x.keys).union(y.keys).sorted().filter { key in
        x[key]?.values.map(\.bitPattern) != y[key]?.values.map(\.bitPattern)
    }
}
