import Checkpoints
import Engine
import Foundation
import Models

/// The discriminator fixtures written by `tools/fixtures/make_discriminator_fixtures.py` into
/// `Tests/Fixtures/discriminators/`.
public struct DiscriminatorManifest: Decodable, Sendable {
    /// A manifest-style architecture (the reference's argument names).
    public struct Arch: Decodable, Sendable {
        public var input_nc: Int
        public var ndf: Int
        public var n_layers: Int?
        public var norm: String
        public var image_size: Int?
        public var c_dim: Int?
        public var repeat_num: Int?
    }

    /// One network: a checkpoint plus the input PyTorch was given and what it computed.
    public struct Case: Decodable, Sendable, CustomStringConvertible {
        public var name: String
        public var checkpoint: String
        public var format: String
        public var family: String
        public var arch: Arch
        public var io: String
        public var input_shape: [Int]
        public var output_shape: [Int]
        public var classes_shape: [Int]?
        public var param_count: Int
        public var key_count: Int
        /// State_dict keys and shapes of the network, in order (without any extra keys the file
        /// carries, such as 2018-era InstanceNorm statistics).
        public var keys: [KeyShape]

        public var checkpointURL: URL { discriminatorFixturesDirectory.appendingPathComponent(checkpoint) }
        public var expectedArchitecture: DiscriminatorArchitecture { arch.architecture(family) }
        public var description: String { name }

        /// `input`, `output` and (StarGAN) `classes`.
        public func tensors() throws -> [String: Tensor] {
            let file = try Checkpoint.load(contentsOf: discriminatorFixturesDirectory.appendingPathComponent(io))
            var out: [String: Tensor] = [:]
            for (key, t) in file.stateDict { out[key] = try Tensor(shape: t.shape, values: t.values) }
            return out
        }
    }

    /// A full-size network described by the report, built on PyTorch's meta device.
    public struct FullSize: Decodable, Sendable, CustomStringConvertible {
        public var label: String
        public var family: String
        public var arch: Arch
        public var param_count: Int
        public var key_count: Int
        public var keys: [KeyShape]
        public var expectedArchitecture: DiscriminatorArchitecture { arch.architecture(family) }
        public var description: String { label }
    }

    /// A `[key, shape]` pair.
    public struct KeyShape: Decodable, Sendable, Equatable {
        public var key: String
        public var shape: [Int]

        public init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            key = try c.decode(String.self)
            shape = try c.decode([Int].self)
        }

        public init(key: String, shape: [Int]) {
            self.key = key
            self.shape = shape
        }
    }

    public var torch_version: String
    public var cases: [Case]
    public var full_size: [FullSize]

    public static func load() throws -> DiscriminatorManifest {
        let data = try Data(contentsOf: discriminatorFixturesDirectory.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(DiscriminatorManifest.self, from: data)
    }
}

extension DiscriminatorManifest.Arch {
    func architecture(_ family: String) -> DiscriminatorArchitecture {
        DiscriminatorArchitecture(family: DiscriminatorArchitecture.Family(rawValue: family)!, inputChannels: input_nc,
                                  ndf: ndf, layers: n_layers ?? 0, norm: DiscriminatorArchitecture.Norm(rawValue: norm)!,
                                  imageSize: image_size ?? 0, cDim: c_dim ?? 0, repeatNum: repeat_num ?? 0)
    }
}

public let discriminatorFixturesDirectory = fixturesDirectory.appendingPathComponent("discriminators")
