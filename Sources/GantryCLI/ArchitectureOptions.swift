import ArgumentParser
import Models

extension GeneratorArchitecture.Family: ExpressibleByArgument {}
extension GeneratorArchitecture.Norm: ExpressibleByArgument {}

/// Overrides for what architecture detection reads from a checkpoint. Rarely needed: the keys
/// say almost everything; UNet dropout layers are the one thing they cannot.
struct ArchitectureOptions: ParsableArguments {
    @Option(help: "Generator family (resnet, unet, stargan) instead of detecting it.")
    var family: GeneratorArchitecture.Family?

    @Option(help: "Width of the first layer (--ngf / StarGAN --g_conv_dim).")
    var ngf: Int?

    @Option(help: "ResNet n_blocks, UNet num_downs or StarGAN repeat_num.")
    var depth: Int?

    @Option(help: "Normalisation layers: instance, batch or none.")
    var norm: GeneratorArchitecture.Norm?

    @Option(name: .customLong("dropout-layers"), help: "Whether the network has Dropout layers (true/false); UNet keys do not record it.")
    var dropoutLayers: Bool?

    @Option(name: .customLong("input-nc"), help: "Image channels in.")
    var inputChannels: Int?

    @Option(name: .customLong("output-nc"), help: "Image channels out.")
    var outputChannels: Int?

    @Option(name: .customLong("c-dim"), help: "StarGAN label planes.")
    var conditionChannels: Int?

    func validate() throws {
        for (name, value) in [("--ngf", ngf), ("--input-nc", inputChannels), ("--output-nc", outputChannels)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if let depth, depth < 0 { throw ValidationError("--depth cannot be negative") }
        if family == .unet, let depth, depth < 5 { throw ValidationError("a UNet needs --depth (num_downs) of at least 5") }
    }

    var overrides: ArchitectureDetection.Overrides {
        .init(family: family, ngf: ngf, depth: depth, norm: norm, dropout: dropoutLayers,
              inputChannels: inputChannels, outputChannels: outputChannels, conditionChannels: conditionChannels)
    }
}
