import Checkpoints
import Engine
import Foundation

/// What loading did to make a checkpoint fit, for `gantry inspect` and logs.
public struct LoadReport: Sendable {
    /// Normalisations applied by the reader and the loader, e.g. "stripped 'module.' prefix from 48 keys".
    public var notes: [String]
    /// Facts assumed rather than read from the keys.
    public var assumptions: [String]
}

extension Generator {
    /// Detects the architecture of `checkpoint`, builds the network and loads the weights
    /// strictly: every key the network needs must be present with its shape, and no key may be
    /// left over, after the same normalisations the reference loader applies.
    public static func load(_ checkpoint: Checkpoint,
                            overrides: ArchitectureDetection.Overrides = .init()) throws -> (Generator, LoadReport) {
        let detected = try ArchitectureDetection.detect(checkpoint.stateDict, overrides: overrides)
        let hint = overrides.isEmpty ? "" : " (with the architecture overrides given)"
        let network = "\(detected.architecture)\(hint)"
        // Sizes come from the file (or flags): bound the network by what the file holds before
        // allocating it.
        try detected.architecture.validate()
        try checkFileCanFill(network, needing: detected.architecture.convolutionWeightCount(), from: checkpoint.stateDict)
        let generator = try Generator(detected.architecture)
        let notes = try generator.root.loadStrictly(checkpoint.stateDict, network: network)
        return (generator, LoadReport(notes: checkpoint.notes + notes, assumptions: detected.assumptions))
    }

    /// Reads a checkpoint file and loads it (see `load(_:overrides:)`).
    public static func load(contentsOf url: URL, overrides: ArchitectureDetection.Overrides = .init()) throws -> (Generator, LoadReport) {
        try load(Checkpoint.load(contentsOf: url), overrides: overrides)
    }
}
