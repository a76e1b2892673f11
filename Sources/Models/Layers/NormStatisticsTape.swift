import Engine

/// The mean and variance every data-dependent normalisation layer used, in execution order.
///
/// Tiled inference records them from a pass over the whole image at reduced resolution, then
/// replays them for every tile, so tiles normalise like the whole image instead of like
/// themselves.
public final class NormStatisticsTape: @unchecked Sendable {
    public enum Mode: Sendable { case recording, replaying }

    public private(set) var mode: Mode = .recording
    public private(set) var entries: [(mean: [Float], variance: [Float])] = []
    private var cursor = 0

    public init() {}

    /// Switches to replay from the first layer (call before each tile).
    public func rewindForReplay() {
        mode = .replaying
        cursor = 0
    }

    func record(mean: [Float], variance: [Float]) { entries.append((mean, variance)) }

    /// The statistics for the next layer, which normalises `x`.
    func next(for x: Tensor) throws -> (mean: Tensor, variance: Tensor) {
        let c = x.shape[1]
        guard cursor < entries.count, entries[cursor].mean.count == c else {
            throw ModelError(.invalidInput, "normalisation statistics do not match the network (layer \(cursor))")
        }
        defer { cursor += 1 }
        return (try Tensor(shape: [c], values: entries[cursor].mean), try Tensor(shape: [c], values: entries[cursor].variance))
    }
}
