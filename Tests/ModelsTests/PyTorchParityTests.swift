import Checkpoints
import Engine
import Models
import Testing
import TestSupport

extension NetworkFixture: CustomTestStringConvertible {}

/// Every fixture network against the output PyTorch computed for the same checkpoint and input.
/// Tolerances from the issue: 1e-4 with direct convolutions, 2e-3 with Winograd.
struct PyTorchParityTests {
    static let fixtures: [NetworkFixture] = ((try? NetworkFixture.all()) ?? []) + ((try? NetworkFixture.all("cut/manifest.json")) ?? [])

    @Test func fixturesArePresent() {
        #expect(Self.fixtures.count >= 18)
        // CUT's three layouts (tools/fixtures/make_cut_fixtures.py, from the CUT repository's code).
        #expect(Self.fixtures.filter { $0.arch.antialias != nil }.count == 3)
    }

    @Test(arguments: fixtures)
    func detectsArchitecture(_ f: NetworkFixture) throws {
        let (generator, _) = try Generator.load(contentsOf: f.checkpointURL)
        var expected = f.expectedArchitecture
        // UNet checkpoints do not record dropout; detection assumes the pix2pix layout.
        if expected.family == .unet { expected.dropout = true }
        #expect(generator.architecture == expected)
        #expect(generator.parameterCount == f.param_count)
    }

    @Test(arguments: fixtures, [DNNLBackend.Algorithm.direct, .winograd])
    func matchesPyTorch(_ f: NetworkFixture, algorithm: DNNLBackend.Algorithm) throws {
        let (generator, _) = try Generator.load(contentsOf: f.checkpointURL)
        let io = try f.tensors()
        let input = try #require(io["input"]), expected = try #require(io["output"])
        let context = ForwardContext(backend: algorithm == .direct ? Backends.direct : Backends.winograd,
                                     batchNorm: f.usesRunningStatistics ? .runningStatistics : .batchStatistics)
        let output = try generator.forward(input, condition: io["condition"], context: context)
        #expect(output.shape == expected.shape)
        let tolerance: Float = algorithm == .direct ? 1e-4 : 2e-3
        let diff = output.maxAbsDifference(expected)
        #expect(diff <= tolerance, "\(f.name): max |Δ| \(diff) with \(algorithm)")
    }
}
