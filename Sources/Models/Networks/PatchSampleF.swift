import Engine

/// CUT's `PatchSampleF` with `--netF mlp_sample` (taesungp/contrastive-unpaired-translation,
/// `models/networks.py`): for each encoder layer it takes the features at sampled positions
/// (`samplePositions`), runs them through that layer's head `mlp_<i>` = Linear(C_i, width), ReLU,
/// Linear(width, width), and L2-normalises each row. Keys `mlp_<i>.0.weight`, `mlp_<i>.2.bias`, …
///
/// CUT builds the heads on its first batch, when the channels are known; here they follow from
/// the generator and the layers before training starts, which gives the same network.
public final class PatchSampleF {
    public let root: Module
    public let channels: [Int]
    public let width: Int

    public init(channels: [Int], width: Int = 256) throws {
        guard width > 0, !channels.isEmpty, channels.allSatisfy({ $0 > 0 }) else {
            throw ModelError(.invalidInput, "PatchSampleF needs a positive width and feature channels, got \(width) and \(channels)")
        }
        self.channels = channels
        self.width = width
        root = try PatchHeads(channels.enumerated().map { i, c in
            ("mlp_\(i)", Sequential([try Linear(c, width), ActivationLayer(.relu), try Linear(width, width)]))
        })
    }

    /// Every trainable parameter with its state_dict key.
    public var parameters: [(name: String, variable: Variable)] { root.parameters() }

    /// The sampled, projected, normalised rows of each feature map (B·n × width): rows of image
    /// b come first for every image, as CUT's `flatten(0, 1)` orders them.
    public func callAsFunction(_ features: [Variable], ids: [[Int]], context: TrainingContext) throws -> [Variable] {
        guard features.count == channels.count, ids.count == channels.count else {
            throw ModelError(.invalidInput, "PatchSampleF has \(channels.count) heads, given \(features.count) feature maps and \(ids.count) id lists")
        }
        return try zip(features, ids).enumerated().map { i, pair in
            let rows = try samplePositions(pair.0, ids: pair.1)
            return try l2NormalizeRows(root.children[i].module.forward(rows, context))
        }
    }

    /// CUT's draw: `np.random.permutation(H·W)[:min(patches, H·W)]` per feature map (here from
    /// Gantry's own generator, so not numpy's numbers).
    public static func drawIDs(for features: [Variable], patches: Int, random: RandomSource) -> [[Int]] {
        features.map { f in
            let positions = f.shape[2] * f.shape[3]
            var order = Array(0..<positions)
            for i in stride(from: positions - 1, to: 0, by: -1) {
                let j = Int(random.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
            return Array(order.prefix(min(patches, positions)))
        }
    }
}

/// The heads as children named `mlp_<i>`.
final class PatchHeads: Module {
    init(_ heads: [(String, Module)]) throws {
        super.init()
        children = heads
    }
}
