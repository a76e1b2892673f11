import AtomicFiles
import Checkpoints
import Foundation
import Models

/// A training run's folder, with the reference's checkpoint names: `<epoch>_net_<name>.pth`
/// (`latest_net_G.pth`, `5_net_D_A.pth`, …), written as `torch.save(net.state_dict())` writes
/// them, so the reference's `load_networks` — and anyone's `load_state_dict(strict=True)` —
/// takes them, and a folder PyTorch's `--continue_train` would resume from is one Gantry can.
public struct RunFolder: Sendable {
    public let url: URL

    public init(_ path: String) { url = URL(fileURLWithPath: path) }

    /// The reference's `save_networks` file name for network `name` at `epoch` ("latest" or N).
    public func networkURL(epoch: String, name: String) -> URL {
        url.appendingPathComponent("\(epoch)_net_\(name).pth")
    }

    /// Creates the folder. A fresh run (not `--continue`) refuses a folder that already holds
    /// files unless `overwrite`: forgetting `--continue` must not replace a trained model.
    public func create(fresh: Bool = false, overwrite: Bool = false) throws {
        try check(fresh: fresh, overwrite: overwrite)
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw TrainingError(.writeFailed, "\(url.path): cannot create the run folder (\(error.localizedDescription))")
        }
    }

    /// `create`'s refusal, without creating anything.
    public func check(fresh: Bool, overwrite: Bool) throws {
        if fresh && !overwrite {
            let present = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            if !present.isEmpty {
                let names = present.prefix(3).joined(separator: ", ") + (present.count > 3 ? ", …" : "")
                throw TrainingError(.invalidSetting, "\(url.path) already holds files (\(names)): --continue carries that run on, --overwrite starts over in it (replacing its checkpoints), or choose a new --run")
            }
        }
    }

    /// Writes `data` as the run folder's file `name`, whole or not at all.
    public func write(_ data: Data, to name: String) throws {
        do { try AtomicFile.write(data, to: url.appendingPathComponent(name)) } catch {
            throw TrainingError(.writeFailed, "\(error)", cause: error)
        }
    }

    /// Writes each network's state_dict (parameters and buffers, in state_dict order) as
    /// `<epoch>_net_<name>.pth` and the same tensors as `<epoch>_net_<name>.safetensors`; each
    /// file appears whole or not at all.
    public func saveNetworks(_ networks: [(name: String, module: Module)], epoch: String) throws {
        for (name, module) in networks {
            let sd = module.stateDict()
            let pth = networkURL(epoch: epoch, name: name)
            do {
                try TorchWriter.write(sd, to: pth)
                try SafetensorsWriter.write(sd, to: pth.deletingPathExtension().appendingPathExtension("safetensors"))
            } catch {
                throw TrainingError(.writeFailed, "\(error)", cause: error)
            }
        }
    }

    /// Makes `destination` name the file `source` names now: a hard link (no copy; a later
    /// rewrite of `source` renames a new file into place and leaves this one alone), or a copy
    /// where the file system has no hard links.
    public func link(_ source: URL, to destination: URL) throws {
        try? FileManager.default.removeItem(at: destination)
        do {
            try FileManager.default.linkItem(at: source, to: destination)
        } catch {
            do { try FileManager.default.copyItem(at: source, to: destination) } catch {
                throw TrainingError(.writeFailed, "\(destination.path): cannot link or copy \(source.lastPathComponent) (\(error.localizedDescription))")
            }
        }
    }

    /// Loads `<epoch>_net_<name>.pth` into each network strictly (the reference's
    /// `load_networks`, with its InstanceNorm-buffer patch); returns the loader's notes.
    public func loadNetworks(_ networks: [(name: String, module: Module)], epoch: String) throws -> [String] {
        var notes: [String] = []
        for (name, module) in networks {
            let file = networkURL(epoch: epoch, name: name)
            guard FileManager.default.fileExists(atPath: file.path) else {
                let saved = savedEpochs(network: name)
                throw TrainingError(.stateMismatch, "\(file.path) does not exist; \(saved.isEmpty ? "the run has no saved \(name)" : "saved epochs: \(saved.map(String.init).joined(separator: ", "))")")
            }
            notes += try load(module, name: name, from: file)
        }
        return notes
    }

    /// Loads the checkpoint `file` into `module` strictly; returns the loader's notes.
    public func load(_ module: Module, name: String, from file: URL) throws -> [String] {
        do {
            let checkpoint = try Checkpoint.load(contentsOf: file)
            return try module.loadStrictly(checkpoint.stateDict, network: "net_\(name)").map { "\(file.lastPathComponent): \($0)" }
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError(.stateMismatch, "\(file.path): \(error)")
        }
    }

    /// Epoch numbers with a saved `<N>_net_<name>.pth`, ascending.
    public func savedEpochs(network name: String) -> [Int] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        let suffix = "_net_\(name).pth"
        return files.compactMap { $0.hasSuffix(suffix) ? Int($0.dropLast(suffix.count)) : nil }.sorted()
    }
}
