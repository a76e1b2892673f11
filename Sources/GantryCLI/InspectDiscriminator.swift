import ArgumentParser
import Checkpoints
import Foundation
import Models

extension Inspect {
    /// `inspect` on a discriminator checkpoint: what it is and how large, so a D file handed to
    /// a generator-only command is recognised rather than called an unknown architecture.
    func inspectDiscriminator(_ file: Checkpoint) throws {
        guard architecture.overrides.isEmpty else {
            throw fail("\(checkpoint): architecture overrides apply to generators; this checkpoint is a discriminator")
        }
        let summary: DiscriminatorSummary
        do {
            let (discriminator, report) = try Discriminator.load(file)
            summary = DiscriminatorSummary(path: checkpoint, format: file.format, discriminator: discriminator,
                                           report: report, tensorCount: file.stateDict.count)
        } catch {
            throw fail("\(checkpoint): \(error)")
        }
        try printSummary(summary, text: summary.text)
    }
}

/// What `inspect` reports for a discriminator, for the text and JSON forms.
struct DiscriminatorSummary: Encodable {
    var path: String
    var format: String
    var kind = "discriminator"
    var family: String
    var network: String
    var architecture: DiscriminatorArchitecture
    var parameters: Int
    var tensorsInFile: Int
    var inputChannels: Int
    /// PatchGAN map side for a 256×256 input (StarGAN: its image_size), when it can run.
    var outputExample: String
    var normalisations: [String]
    var assumptions: [String]

    init(path: String, format: CheckpointFormat, discriminator: Discriminator, report: LoadReport, tensorCount: Int) {
        let a = discriminator.architecture
        self.path = path
        self.format = format.rawValue
        family = a.family.rawValue
        network = a.name
        architecture = a
        parameters = discriminator.parameterCount
        tensorsInFile = tensorCount
        inputChannels = a.inputChannels
        let side = a.family == .stargan ? a.imageSize : 256
        if let out = a.outputSize(height: side, width: side) {
            outputExample = "\(side)×\(side) → \(out.width)×\(out.height) patch logits"
                + (a.family == .stargan ? " and \(a.cDim) class logits" : "")
        } else {
            outputExample = "\(side)×\(side) is too small for this network"
        }
        normalisations = report.notes
        assumptions = report.assumptions
    }

    var text: String {
        let a = architecture
        var details: [String]
        switch a.family {
        case .nLayers: details = ["n_layers \(a.layers)", "ndf \(a.ndf)", "norm \(a.norm.rawValue)"]
        case .pixel: details = ["ndf \(a.ndf)", "norm \(a.norm.rawValue)"]
        case .stargan: details = ["image_size \(a.imageSize)", "conv_dim \(a.ndf)", "c_dim \(a.cDim)", "repeat_num \(a.repeatNum)"]
        }
        var lines = [
            "file:        \(path)",
            "format:      \(format)",
            "network:     \(network) (\(a.family == .stargan ? "" : "pix2pix/CycleGAN ")\(a.className)), a discriminator",
            "             \(details.joined(separator: ", "))",
            "channels:    \(inputChannels) in",
            "parameters:  \(parameters.formatted()) (\(tensorsInFile) tensors in file)",
            "output:      \(outputExample)",
        ]
        lines.append("normalised:  " + (normalisations.isEmpty ? "nothing needed" : normalisations.joined(separator: "\n             ")))
        if !assumptions.isEmpty { lines.append("assumed:     " + assumptions.joined(separator: "\n             ")) }
        return lines.joined(separator: "\n")
    }
}
