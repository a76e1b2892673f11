import Checkpoints
import Foundation
import Models

/// Which generator a command should run from a model path: `-m FILE` as given; `-m RUN` (a run
/// folder) by `--which`, `--direction` and `--epoch`, with the architecture the run's
/// `config.yaml` records; `-m FOLDER` of reference-named checkpoints by file name, as before.
public struct GeneratorRequest: Sendable, Equatable {
    /// A network name: G (pix2pix), G_A or G_B (CycleGAN).
    public var which: String?
    /// The translation wanted, in the dataset's A/B terms.
    public var direction: TrainingOptions.Direction?
    /// "latest" or an epoch number (nil: latest).
    public var epoch: String?

    public init(which: String? = nil, direction: TrainingOptions.Direction? = nil, epoch: String? = nil) {
        (self.which, self.direction, self.epoch) = (which, direction, epoch)
    }
}

/// The checkpoint a request resolved to, and for a run folder the architecture it was trained with.
public struct GeneratorSource: Sendable {
    public var url: URL
    /// The reference's network name (G, G_A, G_B); nil for a checkpoint file given directly.
    public var network: String?
    public var epoch: String?
    /// From the run's `config.yaml`; nil when only the checkpoint's keys can tell.
    public var architecture: GeneratorArchitecture?
    /// One line for `--dry-run` and logs: what was picked and why.
    public var summary: String

    public init(url: URL, network: String?, epoch: String?, architecture: GeneratorArchitecture?, summary: String) {
        (self.url, self.network, self.epoch, self.architecture, self.summary) = (url, network, epoch, architecture, summary)
    }

    /// Resolves `path` (file, run folder or checkpoint folder) for `request`.
    public static func resolve(_ path: URL, _ request: GeneratorRequest) throws -> GeneratorSource {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDir) else {
            throw TrainingError(.notInRun, "\(path.path): model file not found")
        }
        let epoch = request.epoch ?? "latest"
        guard epoch == "latest" || (Int(epoch).map { $0 >= 0 } ?? false) else {
            throw TrainingError(.invalidSetting, "--epoch must be 'latest' or an epoch number, got '\(epoch)'")
        }
        guard isDir.boolValue else {
            if request.which != nil || request.epoch != nil {
                throw TrainingError(.invalidSetting, "\(path.path) is a checkpoint file; --which and --epoch choose within a run folder (give -m the folder)")
            }
            return GeneratorSource(url: path, network: nil, epoch: nil, architecture: nil, summary: path.path)
        }
        if TrainedRun.isRunFolder(path) { return try resolve(run: TrainedRun(path), request, epoch: epoch) }
        return try resolve(plainFolder: path, request, epoch: epoch)
    }

    static func resolve(run: TrainedRun, _ request: GeneratorRequest, epoch: String) throws -> GeneratorSource {
        let o = run.options, names = run.generatorNames, path = run.folder.url.path
        guard o.model != .dcgan else {
            throw TrainingError(.notInRun, "\(path) is a dcgan run: its generator draws images from noise rather than translating them; use gantry sample -m \(path)")
        }
        if let which = request.which, !names.contains(which) {
            let what = run.discriminatorNames.contains(which) ? "\(which) is a discriminator" : "it has no network \(which)"
            throw TrainingError(.notInRun, "--which \(which): \(path) is a \(o.model.rawValue) run and \(what); choose \(names.joined(separator: " or "))")
        }
        // G_A translates the way the run was trained (`--direction`), G_B the other way.
        var byDirection: String?
        if let d = request.direction {
            if o.model == .stargan {
                throw TrainingError(.invalidSetting, "--direction: \(path) is a StarGAN run; choose the target domain with --domain or --condition")
            } else if o.model.judgesPairs || o.model.isContrastive {
                guard d == o.direction else {
                    throw TrainingError(.notInRun, "--direction \(d.rawValue): \(path) is a \(o.model.rawValue) run trained \(o.direction.rawValue) (config.yaml), so its G translates \(o.direction.rawValue) only; drop --direction")
                }
                byDirection = "G"
            } else {
                byDirection = d == o.direction ? "G_A" : "G_B"
            }
        }
        if let which = request.which, let byDirection, which != byDirection {
            throw TrainingError(.invalidSetting, "--which \(which) and --direction \(request.direction!.rawValue) disagree: this run's \(byDirection) translates \(request.direction!.rawValue) (it was trained \(o.direction.rawValue)); give one of them")
        }
        let name = request.which ?? byDirection ?? names[0]
        var url = run.folder.networkURL(epoch: epoch, name: name)
        // A run trained with --ema hands over the moving average (the file PyTorch users take too).
        let averaged = run.folder.networkURL(epoch: epoch, name: name + "_ema")
        let usesAverage = o.ema > 0 && FileManager.default.fileExists(atPath: averaged.path)
        if usesAverage { url = averaged }
        guard FileManager.default.fileExists(atPath: url.path) else {
            let saved = run.savedEpochs(name)
            let list = (saved.latest ? ["latest"] : []) + saved.numbered.map(String.init)
            if list.isEmpty {
                throw TrainingError(.notInRun, "\(path) has no saved \(name) yet: its training has not finished an epoch")
            }
            throw TrainingError(.notInRun, "\(path) has no \(url.lastPathComponent)\(request.epoch == nil ? "" : " (--epoch \(epoch))"); saved epochs of \(name): \(list.joined(separator: ", "))")
        }
        let a = try run.generatorArchitecture(name)
        let translates = o.model == .stargan ? "to the domains \(o.domains.joined(separator: ", "))"
            : name == "G_B" ? (o.direction == .aToB ? "BtoA" : "AtoB") : o.direction.rawValue
        return GeneratorSource(url: url, network: name, epoch: epoch, architecture: a,
                               summary: "\(url.path) (\(name)\(usesAverage ? "'s moving average" : "") of a \(o.model.rawValue) run, translates \(translates); \(a), from config.yaml)")
    }

    /// A folder of reference-named checkpoints without `config.yaml`: file names only.
    static func resolve(plainFolder url: URL, _ request: GeneratorRequest, epoch: String) throws -> GeneratorSource {
        let names: [String]
        if let which = request.which {
            names = [which]
        } else {
            switch request.direction {
            case .bToA?: names = ["G_B"]
            case .aToB?: names = ["G_A", "G"]
            case nil: names = ["G"]
            }
        }
        let files = names.map { "\(epoch)_net_\($0).pth" }
        for (name, file) in zip(names, files) where FileManager.default.fileExists(atPath: url.appendingPathComponent(file).path) {
            return GeneratorSource(url: url.appendingPathComponent(file), network: name, epoch: epoch, architecture: nil,
                                   summary: url.appendingPathComponent(file).path)
        }
        let present = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [])
            .filter { RunFolder.parseCheckpointName($0).map { $0.name.hasPrefix("G") } ?? false }.sorted()
        let hint = request.direction == nil && request.which == nil && present.contains { $0.hasSuffix("_net_G_A.pth") }
            ? " (use --direction AtoB or BtoA, or --which G_A or G_B, for CycleGAN folders)" : ""
        throw TrainingError(.notInRun, "\(url.path): a folder, but no \(files.joined(separator: " or ")) in it\(hint)\(present.isEmpty ? "" : "; generator checkpoints there: \(present.prefix(12).joined(separator: ", "))")")
    }

    /// `flags` (what the user forced) combined with the run's architecture: for a run folder the
    /// config decides, and a flag that says otherwise is an error rather than a silent override —
    /// the run's own record is right by construction, so a differing flag is a mistake.
    public func overrides(_ flags: ArchitectureDetection.Overrides) throws -> ArchitectureDetection.Overrides {
        guard let a = architecture else { return flags }
        let run = ArchitectureDetection.Overrides(family: a.family, ngf: a.ngf, depth: a.depth, norm: a.norm, dropout: a.dropout,
                                                  inputChannels: a.inputChannels, outputChannels: a.outputChannels,
                                                  conditionChannels: a.conditionChannels)
        func check<T: Equatable>(_ flag: String, _ given: T?, _ recorded: T) throws {
            if let given, given != recorded {
                throw TrainingError(.invalidSetting, "\(flag) \(given) contradicts the run's config.yaml, which gives \(network ?? "G") \(flag.dropFirst(2)) \(recorded); drop the flag (a run folder's architecture comes from its config.yaml)")
            }
        }
        try check("--family", flags.family?.rawValue, a.family.rawValue)
        try check("--ngf", flags.ngf, a.ngf)
        try check("--depth", flags.depth, a.depth)
        try check("--norm", flags.norm?.rawValue, a.norm.rawValue)
        try check("--dropout-layers", flags.dropout, a.dropout)
        try check("--input-nc", flags.inputChannels, a.inputChannels)
        try check("--output-nc", flags.outputChannels, a.outputChannels)
        try check("--c-dim", flags.conditionChannels, a.conditionChannels)
        return run
    }

    /// Loads the generator strictly with `overrides(flags)`. A run checkpoint that does not fit
    /// its own config.yaml is reported as such, naming both.
    public func load(flags: ArchitectureDetection.Overrides = .init()) throws -> (Generator, LoadReport) {
        let merged = try overrides(flags)
        do {
            return try Generator.load(contentsOf: url, overrides: merged)
        } catch let error as CheckpointError {
            throw error
        } catch {
            guard let a = architecture else { throw error }
            // The loader names the network "with the architecture overrides given"; here they are
            // the run's own record, which this message names instead.
            var detail = "\(error)"
            if let r = detail.range(of: " (with the architecture overrides given): ") { detail = String(detail[r.upperBound...]) }
            throw TrainingError(.unreadableRun, "\(url.path) does not fit the run's config.yaml (\(network ?? "G"): \(a)): \(detail)")
        }
    }
}
