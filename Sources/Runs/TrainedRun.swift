import Checkpoints
import Foundation
import Models
import Yams

/// A run folder `gantry train` wrote, opened for use: its `config.yaml` read back into the
/// options the run was trained with, so each network it saved is rebuilt exactly as trained —
/// batch or instance norm, dropout layers or not, channels — instead of guessed from the keys.
public struct TrainedRun: Sendable {
    public let folder: RunFolder
    /// The options from `config.yaml`; keys it lacks take the recipe's defaults, as in training.
    public let options: TrainingOptions
    /// Keys of `config.yaml` this Gantry does not know (a newer one wrote them); ignored.
    public let unknownKeys: [String]

    /// `config.yaml` beside a reference-named checkpoint or a `losses.jsonl`: the mark of a run
    /// folder. A folder of checkpoints without it is a plain checkpoint folder.
    public static func isRunFolder(_ url: URL) -> Bool {
        let fm = FileManager.default
        guard fm.fileExists(atPath: url.appendingPathComponent("config.yaml").path) else { return false }
        if fm.fileExists(atPath: url.appendingPathComponent("losses.jsonl").path) { return true }
        let files = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
        return files.contains { RunFolder.parseCheckpointName($0) != nil }
    }

    /// Reads `RUN/config.yaml`; a missing, unreadable or invalid file is one error naming it.
    public init(_ url: URL) throws {
        folder = RunFolder(url.path)
        let file = url.appendingPathComponent("config.yaml")
        let text = try readBounded(file, limit: 1 << 20, what: "a run's config.yaml")
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw TrainingError(.unreadableRun, "\(file.path): not valid YAML (\(String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ").prefix(200)))")
        }
        guard let mapping = node?.mapping else {
            throw TrainingError(.unreadableRun, "\(file.path): expected the option: value lines `gantry train` writes")
        }
        var entries: [(String, String)] = []
        for (k, v) in mapping {
            guard let name = k.string, let value = v.scalar?.string else {
                throw TrainingError(.unreadableRun, "\(file.path): '\(k.string ?? "?")' must map to a single value")
            }
            entries.append((name, value))
        }
        guard let model = entries.first(where: { $0.0 == "model" })?.1 else {
            throw TrainingError(.unreadableRun, "\(file.path): no 'model' line (pix2pix or cyclegan)")
        }
        guard let recipe = TrainingRecipe(rawValue: model) else {
            throw TrainingError(.unreadableRun, "\(file.path): model '\(model)' is not pix2pix, cyclegan, stargan or dcgan")
        }
        var options = TrainingOptions.defaults(for: recipe), unknown: [String] = []
        for (name, value) in entries where name != "model" {
            guard let key = TrainingOptions.key(named: name) else { unknown.append(name); continue }
            // Runs written before options were per recipe list every recipe's options.
            guard key.recipes.contains(recipe) else { continue }
            do { try options.set(name, to: value) } catch {
                throw TrainingError(.unreadableRun, "\(file.path): \(error)")
            }
        }
        // The generator must be buildable for the run to be usable at all; a discriminator the
        // config cannot describe only stops `inspect` from checking it.
        if recipe == .dcgan {
            // Generated from noise: no image-to-image architecture to check.
        } else if recipe == .stargan {
            guard !options.domains.isEmpty else {
                throw TrainingError(.unreadableRun, "\(file.path): a stargan run without 'domains' (the label names training writes)")
            }
        } else {
            do { _ = try options.generatorArchitecture() } catch {
                throw TrainingError(.unreadableRun, "\(file.path): \(error)")
            }
        }
        self.options = options
        unknownKeys = unknown
    }

    /// The networks the recipe trains, in the reference's order (`model_names`).
    public var generatorNames: [String] { options.model == .cyclegan ? ["G_A", "G_B"] : ["G"] }
    public var discriminatorNames: [String] { options.model == .cyclegan ? ["D_A", "D_B"] : ["D"] }

    /// The generator `name` as trained: G_B maps the other way, so its channels are swapped.
    public func generatorArchitecture(_ name: String) throws -> GeneratorArchitecture {
        if options.model == .stargan { return options.starGANArchitectures(domains: options.domains.count).generator }
        if options.model == .dcgan {
            throw TrainingError(.notInRun, "\(folder.url.path) is a dcgan run: its G draws images from noise (gantry sample -m RUN), it does not translate images")
        }
        var a = try options.generatorArchitecture()
        if name == "G_B" { (a.inputChannels, a.outputChannels) = (a.outputChannels, a.inputChannels) }
        return a
    }

    /// The discriminator `name` as trained: pix2pix's D judges cat(A, B); CUT's D and D_A judge B
    /// images (output_nc channels), D_B judges A images.
    public func discriminatorArchitecture(_ name: String) throws -> DiscriminatorArchitecture {
        if options.model == .stargan { return options.starGANArchitectures(domains: options.domains.count).discriminator }
        if options.model == .dcgan {
            throw TrainingError(.notInRun, "\(folder.url.path) is a dcgan run: its D judges 64×64 images (DCGAN), not an image-to-image pair")
        }
        let channels = name == "D" && options.model.judgesPairs ? options.inputNC + options.outputNC
            : name == "D" || name == "D_A" ? options.outputNC : options.inputNC
        return try options.discriminatorArchitecture(channels: channels)
    }

    /// Epoch numbers with a saved `<N>_net_<name>.pth`, and whether `latest_net_<name>.pth` exists.
    public func savedEpochs(_ name: String) -> (numbered: [Int], latest: Bool) {
        (folder.savedEpochs(network: name),
         FileManager.default.fileExists(atPath: folder.networkURL(epoch: "latest", name: name).path))
    }
}

extension RunFolder {
    /// `<epoch>_net_<name>.pth` → (epoch, name), for "latest" or a whole number; nil otherwise
    /// (the `.safetensors` copies included: the `.pth` files are the reference's).
    public static func parseCheckpointName(_ file: String) -> (epoch: String, name: String)? {
        guard file.hasSuffix(".pth"), let r = file.range(of: "_net_") else { return nil }
        let epoch = String(file[..<r.lowerBound]), name = String(file[r.upperBound...].dropLast(4))
        guard !name.isEmpty, epoch == "latest" || (Int(epoch).map { $0 >= 0 } ?? false) else { return nil }
        return (epoch, name)
    }
}

/// Reads a small text file whole, refusing one larger than `limit` bytes (a run's own files are
/// small; a huge one is not what it claims to be).
public func readBounded(_ url: URL, limit: Int, what: String) throws -> String {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else {
        throw TrainingError(.unreadableRun, "\(url.path): not found")
    }
    if let size = attributes[.size] as? Int, size > limit {
        throw TrainingError(.unreadableRun, "\(url.path): \(size) bytes is too large for \(what)")
    }
    guard let data = try? Data(contentsOf: url) else { throw TrainingError(.unreadableRun, "\(url.path): cannot be read") }
    guard let text = String(data: data, encoding: .utf8) else {
        throw TrainingError(.unreadableRun, "\(url.path): not UTF-8 text")
    }
    return text
}
