import Checkpoints
import Engine
import Foundation
import Models
import Testing
import TestSupport

/// Checkpoints that read fine but do not make a network: tensors of the wrong shape, rank or
/// size. Each is refused with one line that names the key, never a crash. (NaN weights:
/// CrashRegressionCommandTests.nanWeightsFailTheFileWithoutWritingIt.)
struct MalformedCheckpointTests {
    static let source = fixturesDirectory.appendingPathComponent("resnet6_instance.pth")

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String, key: String, shape: [Int]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "first conv with a 5×5 kernel", key: "model.1.weight", shape: [8, 3, 5, 5]),
        Case(name: "bias one short", key: "model.1.bias", shape: [7]),
        Case(name: "a block twice as wide", key: "model.10.conv_block.1.weight", shape: [64, 64, 3, 3]),
        Case(name: "conv weight flattened to one dimension", key: "model.1.weight", shape: [8 * 3 * 7 * 7]),
        Case(name: "conv weight of rank 5", key: "model.4.weight", shape: [16, 8, 3, 3, 1]),
        Case(name: "scalar bias", key: "model.23.bias", shape: []),
        Case(name: "zero output channels", key: "model.1.weight", shape: [0, 3, 7, 7]),
        Case(name: "last conv with 2 input channels", key: "model.23.weight", shape: [3, 2, 7, 7]),
        Case(name: "upsampling conv transposed the wrong way", key: "model.19.weight", shape: [8, 16, 3, 3]),
    ]

    static func stateDict() throws -> StateDict { try Checkpoint.load(contentsOf: source).stateDict }

    static func write(_ sd: StateDict, in dir: TemporaryDirectory) throws -> URL {
        let url = dir.url.appendingPathComponent("G.pth")
        try TorchWriter.write(sd, to: url)
        return url
    }

    @Test func theKeysExistInTheSource() throws {
        let sd = try Self.stateDict()
        for c in Self.cases { #expect(sd[c.key] != nil, "\(c.key) is not in \(Self.source.lastPathComponent)") }
    }

    @Test(arguments: cases)
    func malformedShapesAreRefusedNamingTheKey(_ c: Case) throws {
        var sd = try Self.stateDict()
        let count = c.shape.reduce(1, *)
        sd[c.key] = CheckpointTensor(shape: c.shape, values: (0..<count).map { Float($0 % 7) * 0.01 })
        let dir = try TemporaryDirectory()
        let url = try Self.write(sd, in: dir)
        do {
            let (g, _) = try Generator.load(contentsOf: url)
            Issue.record("\(c.name): loaded as \(g.architecture)")
        } catch {
            let text = "\(error)"
            #expect(text.contains(c.key), "\(c.name): \(text)")
            #expect(!text.contains("\n"), "one line: \(text)")
        }
    }
}
