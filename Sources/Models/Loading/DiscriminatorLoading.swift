import Checkpoints
import Foundation

extension Discriminator {
    /// Detects the discriminator in `checkpoint`, builds it and loads the weights with the same
    /// strictness and normalisations as `Generator.load`.
    public static func load(_ checkpoint: Checkpoint) throws -> (Discriminator, LoadReport) {
        let architecture = try DiscriminatorDetection.detect(checkpoint.stateDict)
        try architecture.validate()
        try checkFileCanFill("\(architecture)", needing: architecture.convolutionWeightCount(), from: checkpoint.stateDict)
        let discriminator = try Discriminator(architecture)
        let notes = try discriminator.root.loadStrictly(checkpoint.stateDict, network: "\(architecture)")
        var assumptions: [String] = []
        if architecture.family == .stargan {
            // The reference's int(image_size / 2^repeat_num) drops the remainder.
            let largest = architecture.imageSize + (1 << architecture.repeatNum) - 1
            assumptions.append("image_size \(architecture.imageSize) read from conv2's kernel (sizes up to \(largest) build the same network)")
        }
        return (discriminator, LoadReport(notes: checkpoint.notes + notes, assumptions: assumptions))
    }

    /// Reads a checkpoint file and loads it (see `load(_:)`).
    public static func load(contentsOf url: URL) throws -> (Discriminator, LoadReport) {
        try load(Checkpoint.load(contentsOf: url))
    }
}
