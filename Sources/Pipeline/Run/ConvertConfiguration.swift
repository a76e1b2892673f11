import Foundation
import Imaging
import Models

/// Everything a conversion run needs besides the model and the list of files.
public struct ConvertConfiguration: Sendable {
    /// Threads for decoding, inference and encoding (`--jobs L:P:S`).
    public struct Jobs: Sendable, Equatable, CustomStringConvertible {
        public var load: Int, process: Int, save: Int

        public init(load: Int, process: Int, save: Int) {
            (self.load, self.process, self.save) = (load, process, save)
        }

        /// Parses "1:1:2".
        public init?(_ text: String) {
            let p = text.split(separator: ":").compactMap { Int($0) }
            guard p.count == 3, p.allSatisfy({ $0 >= 1 && $0 <= 64 }) else { return nil }
            (load, process, save) = (p[0], p[1], p[2])
        }

        public var description: String { "\(load):\(process):\(save)" }
    }

    public var preprocess: PreprocessPolicy = .native
    public var maxSide: Int?
    public var format: OutputFormat = .png
    public var quality = 95
    public var overwrite = false
    public var skipExisting = false
    public var jobs = Jobs(load: 1, process: 1, save: 1)
    /// Same-size images run through the network together, up to this many.
    public var batch = 1
    public var memory = MemoryBudget.automatic
    /// Where images too large for `memory` keep their activations (`--scratch`; default the
    /// temporary folder).
    public var scratch: URL?
    public var settings = InferenceSettings()
    public var decodeLimits = DecodeLimits()

    public init() {}
}
