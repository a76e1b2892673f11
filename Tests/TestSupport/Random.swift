import Engine
import Foundation

/// Deterministic random tensors for tests.
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    let random = RandomSource(seed: seed)
    let t = try! Tensor(uninitialized: shape)  // small test tensors
    t.withUnsafeMutableBufferPointer { p in
        for i in p.indices { p[i] = (random.nextUnit() * 2 - 1) * scale }
    }
    return t
}

/// The repository's `Tests/Fixtures` folder (found from this file's location, so tests run from any directory).
public let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A process-wide oneDNN backend per algorithm (primitive caches are worth sharing across tests).
public enum Backends {
    public static let winograd: DNNLBackend = try! DNNLBackend(algorithm: .winograd)
    public static let direct: DNNLBackend = try! DNNLBackend(algorithm: .direct)
    /// Gantry's own Winograd F(4×4, 3×3) for 3×3 stride-1 layers whatever the CPU offers.
    public static let gantryWinograd: DNNLBackend = try! DNNLBackend(algorithm: .winograd, winogradImplementation: .gantry)
    public static let reference = ReferenceBackend()
}

/// A random stream for tests that want variety run to run (timings, orders) yet must be
/// reproducible when they fail: the seed comes from `GANTRY_TEST_SEED` when set, otherwise from
/// the clock, and is printed with the test's name so a failure can be replayed with it.
public struct TestRandom: RandomNumberGenerator {
    public let seed: UInt64
    private let source: RandomSource

    public init(_ test: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let text = environment["GANTRY_TEST_SEED"], let value = UInt64(text) {
            seed = value
        } else {
            seed = UInt64(Date().timeIntervalSince1970 * 1000) & 0xFFFF_FFFF
        }
        source = RandomSource(seed: seed)
        print("\(test): random seed \(seed) (replay with GANTRY_TEST_SEED=\(seed))")
    }

    public mutating func next() -> UInt64 { source.next() }
}
