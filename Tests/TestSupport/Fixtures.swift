import Checkpoints
import Engine
import Foundation
import Models

/// One network fixture written by `tools/fixtures/make_fixtures.py`: a checkpoint plus the
/// input PyTorch was given and the output it computed.
public struct NetworkFixture: Decodable, Sendable {
    public struct Arch: Decodable, Sendable {
        public var ngf: Int
        public var n_blocks: Int?
        public var num_downs: Int?
        public var repeat_num: Int?
        public var norm: String
        public var dropout: Bool
        public var input_nc: Int
        public var output_nc: Int
        public var c_dim: Int?
        /// CUT's anti-aliased ResNet layouts (tools/fixtures/make_cut_fixtures.py).
        public var antialias: Bool?
        public var antialias_up: Bool?
    }

    public var name: String
    public var checkpoint: String
    public var format: String
    public var family: String
    public var arch: Arch
    public var mode: [String: String]
    public var io: String
    public var param_count: Int
    public var key_count: Int

    public var checkpointURL: URL { fixturesDirectory.appendingPathComponent(checkpoint) }

    /// The architecture the fixture was generated with, in Gantry's terms.
    public var expectedArchitecture: GeneratorArchitecture {
        var a = GeneratorArchitecture(family: GeneratorArchitecture.Family(rawValue: family)!,
                              inputChannels: arch.input_nc, outputChannels: arch.output_nc, ngf: arch.ngf,
                              depth: arch.n_blocks ?? arch.num_downs ?? arch.repeat_num ?? 0,
                              norm: GeneratorArchitecture.Norm(rawValue: arch.norm)!,
                              dropout: family == "stargan" ? false : arch.dropout, conditionChannels: arch.c_dim ?? 0)
        a.antialias = arch.antialias ?? false
        a.antialiasUp = arch.antialias_up ?? false
        return a
    }

    public var usesRunningStatistics: Bool { mode["bn_stats"] == "running" }

    /// `input`, `output` and (StarGAN) `condition` tensors.
    public func tensors() throws -> [String: Tensor] {
        let file = try Checkpoint.load(contentsOf: fixturesDirectory.appendingPathComponent(io))
        var out: [String: Tensor] = [:]
        for key in file.stateDict.keys {
            let t = file.stateDict[key]!
            out[key] = try Tensor(shape: t.shape, values: t.values)
        }
        return out
    }

    /// Names the case in test output.
    public var testDescription: String { name }

    /// The cases of `manifest` (a path under Tests/Fixtures): the reference's and StarGAN's
    /// networks by default, CUT's in `cut/manifest.json`.
    public static func all(_ manifest: String = "manifest.json") throws -> [NetworkFixture] {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent(manifest))
        return try JSONDecoder().decode([NetworkFixture].self, from: data)
    }
}

/// One hostile or broken file and the kind of refusal it must get.
public struct HostileFixture: Decodable, Sendable {
    public var file: String
    public var expected_error: String
    public var reason: String

    public var url: URL { fixturesDirectory.appendingPathComponent("hostile").appendingPathComponent(file) }

    public static func all() throws -> [HostileFixture] {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("hostile/manifest.json"))
        return try JSONDecoder().decode([HostileFixture].self, from: data)
    }
}

/// A file that once crashed or hung Gantry, written by `tools/fixtures/make_crash_fixtures.py`
/// into `Tests/Fixtures/crashes/` (issue 8's classes 1–8).
public struct CrashFixture: Decodable, Sendable, CustomStringConvertible {
    public var file: String
    /// The class number.
    public var `class`: Int
    /// `image`, `model` (refused by architecture checks), `checkpoint` (by the reader) or `convert`
    /// (loads, but its conversions must fail).
    public var kind: String
    public var what: String
    /// Error code raw value, or `notes` when the file loads and its notes are checked.
    public var expect: String
    /// A phrase of the one-line message (or note).
    public var contains: String

    public var url: URL { fixturesDirectory.appendingPathComponent("crashes/\(file)") }
    public var description: String { file }

    public static func all() throws -> [CrashFixture] {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("crashes/manifest.json"))
        return try JSONDecoder().decode([CrashFixture].self, from: data)
    }
}
