import Checkpoints
import Foundation
import Models
import Runs

/// What `gantry inspect RUN` reports about a training run folder, for its text and JSON forms:
/// the recipe and its key options, each network as configured and as saved (its latest
/// checkpoint loaded strictly, so a damaged file is found here rather than at convert time),
/// how far training got and the last logged losses.
public struct RunSummary: Encodable, Sendable {
    public struct Network: Encodable, Sendable {
        public var name: String
        public var kind: String
        /// The reference's netG / netD name (unet_256, basic, …).
        public var network: String
        public var architecture: String
        /// From the latest checkpoint; nil until the first epoch has been saved.
        public var parameters: Int?
        public var checkpoint: String?
        public var savedEpochs: [Int]
    }

    public struct Loss: Encodable, Sendable {
        public var name: String
        /// nil where the log has a non-finite value (JSON has no NaN).
        public var value: Double?
    }

    public struct Iteration: Encodable, Sendable {
        public var epoch: Int
        public var iter: Int
        public var lr: Double?
        public var losses: [Loss]
        public var seconds: Double?
    }

    public struct Option: Encodable, Sendable {
        public var name: String
        public var value: String
    }

    public var path: String
    public var kind = "run"
    public var model: String
    public var data: String
    public var direction: String
    public var firstEpoch: Int
    public var lastEpoch: Int
    public var epochsDone: Int?
    public var epochsDoneSource: String?
    public var interrupted: Bool?
    public var iterations: Int?
    public var lastIteration: Iteration?
    public var networks: [Network]
    public var options: [Option]
    public var unknownConfigKeys: [String]
    /// How `gantry convert` runs the generators (norm statistics and dropout), in words.
    public var inference: [String]

    /// The options worth a glance; `config.yaml` has every one.
    static let keyOptions = ["net-g", "net-d", "ngf", "ndf", "norm", "no-dropout", "input-nc", "output-nc", "gan-mode",
                             "lr", "lr-policy", "n-epochs", "n-epochs-decay", "batch-size", "preprocess", "load-size",
                             "crop-size", "save-epoch-freq", "seed"]

    /// Reads the run folder at `url`; any file that is not what `gantry train` writes is one
    /// error naming the file.
    public init(_ url: URL) throws {
        let run = try TrainedRun(url)
        let o = run.options
        path = url.path
        model = o.model.rawValue
        data = o.data
        direction = o.direction.rawValue
        firstEpoch = o.epochCount
        lastEpoch = max(o.epochCount, o.nEpochs + o.nEpochsDecay)
        let progress = try RunProgress(run.folder)
        (epochsDone, epochsDoneSource, interrupted, iterations) =
            (progress.epochsDone, progress.epochsDoneSource, progress.interrupted, progress.iterations)
        if o.model == .stargan {
            // StarGAN counts iterations, not epochs, and has no direction.
            direction = ""
            (firstEpoch, lastEpoch) = (1, o.numIters)
            (epochsDone, epochsDoneSource, interrupted, iterations) = (progress.lastRecord?.iter, "losses.jsonl", nil, nil)
        }
        if o.model == .dcgan { direction = "" }  // noise in, images out
        lastIteration = progress.lastRecord.map { r in
            func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }
            return Iteration(epoch: r.epoch, iter: r.iter, lr: finite(r.lr),
                             losses: r.losses.map { Loss(name: $0.name, value: finite($0.value)) }, seconds: finite(r.seconds))
        }
        let lambdas = switch o.model {
        case .pix2pix, .colorization: ["lambda-l1", "ema"]
        case .cyclegan: ["lambda-a", "lambda-b", "lambda-identity", "pool-size", "ema"]
        case .cut, .fastcut: ["lambda-gan", "lambda-nce", "nce-idt", "nce-layers", "num-patches", "nce-t", "flip-equivariance"]
        case .stargan: ["domains", "lambda-cls", "lambda-rec", "lambda-gp", "n-critic", "num-iters"]
        case .dcgan: ["nz", "gan-mode", "n-critic"]
        }
        let wanted = Set(Self.keyOptions + lambdas)
        options = o.settings.filter { wanted.contains($0.name) && ($0.name != "ema" || o.ema > 0) }.map { Option(name: $0.name, value: $0.value) }
        unknownConfigKeys = run.unknownKeys
        if o.model == .dcgan {
            networks = try Self.dcganNetworks(run)
            inference = ["not an image translator: gantry sample -m RUN draws 64×64 images from noise (nz \(o.nz)), G with its running statistics"]
            return
        }
        networks = try run.generatorNames.map { try Self.generator($0, run) } + run.discriminatorNames.map { try Self.discriminator($0, run) }
        let g = try run.generatorArchitecture(run.generatorNames[0])
        inference = [
            g.norm == .batch
                ? "BatchNorm uses each image's own statistics, as the reference's test.py does without --eval (--eval: the running statistics)"
                : "\(g.norm == .instance ? "InstanceNorm" : "no normalisation"): the same in train and eval mode",
            g.dropout
                ? "dropout layers off, so output is deterministic (--dropout: stochastic, as the reference's test.py runs them)"
                : "no dropout layers (trained with no-dropout)",
        ]
        if o.ema > 0 {
            inference.append("the generators' moving average (--ema \(o.ema)): <epoch>_net_\(run.generatorNames[0])_ema.pth where it was saved; -m RUN/<file> picks a file directly")
        }
        if o.model == .stargan {
            inference = ["InstanceNorm with each image's own statistics, as the solver (which never calls eval()) runs it; the running statistics are saved but unused"]
            let held = (try? String(contentsOf: run.folder.url.appendingPathComponent("held_out.txt"), encoding: .utf8))
                .map { $0.split(separator: "\n").count } ?? 0
            inference.append("--preprocess centre-crop --crop-size \(o.cropSize) --load-size \(o.imageSize) sizes photos as training did")
            inference.append("test mode: gantry sample -m RUN -o RUN/results (\(held > 0 ? "the \(held) images in held_out.txt" : "every image of --data"))")
        }
    }

    static func generator(_ name: String, _ run: TrainedRun) throws -> Network {
        let a = try run.generatorArchitecture(name)
        let saved = run.savedEpochs(name)
        var parameters: Int?
        if saved.latest {
            let source = GeneratorSource(url: run.folder.networkURL(epoch: "latest", name: name), network: name, epoch: "latest",
                                         architecture: a, summary: "")
            do { parameters = try source.load().0.parameterCount } catch let e as CheckpointError {
                throw TrainingError(.unreadableRun, e.description)
            }
        }
        return Network(name: name, kind: "generator", network: a.name, architecture: a.description, parameters: parameters,
                       checkpoint: saved.latest ? "latest_net_\(name).pth" : nil, savedEpochs: saved.numbered)
    }

    /// DCGAN's G and D as the run's options build them, each latest checkpoint loaded strictly.
    static func dcganNetworks(_ run: TrainedRun) throws -> [Network] {
        let o = run.options, batchNorm = o.norm == .batch
        let norm = batchNorm ? "batch norm" : "no normalisation"
        let built: [(String, String, Module, String)] = [
            ("G", "generator", try DCGAN.generator(nz: o.nz, ngf: o.ngf, batchNorm: batchNorm), "DCGAN generator: z of \(o.nz) → 64×64 RGB, ngf \(o.ngf), \(norm)"),
            ("D", "discriminator", try DCGAN.discriminator(ndf: o.ndf, batchNorm: batchNorm), "DCGAN discriminator: 64×64 RGB → one logit, ndf \(o.ndf), \(norm)"),
        ]
        return try built.map { name, kind, module, description in
            let saved = run.savedEpochs(name)
            var parameters: Int?
            if saved.latest {
                let file = run.folder.networkURL(epoch: "latest", name: name)
                do { _ = try module.loadStrictly(Checkpoint.load(contentsOf: file).stateDict, network: "net_\(name)") } catch {
                    throw TrainingError(.unreadableRun, "\(file.path): \(error)")
                }
                parameters = module.parameters().reduce(0) { $0 + $1.variable.data.count }
            }
            return Network(name: name, kind: kind, network: "dcgan", architecture: description, parameters: parameters,
                           checkpoint: saved.latest ? "latest_net_\(name).pth" : nil, savedEpochs: saved.numbered)
        }
    }

    static func discriminator(_ name: String, _ run: TrainedRun) throws -> Network {
        let a: DiscriminatorArchitecture
        do { a = try run.discriminatorArchitecture(name) } catch {
            throw TrainingError(.unreadableRun, "\(run.folder.url.appendingPathComponent("config.yaml").path): \(error)")
        }
        let saved = run.savedEpochs(name)
        var parameters: Int?
        if saved.latest {
            let file = run.folder.networkURL(epoch: "latest", name: name)
            let d: Discriminator
            do { d = try Discriminator.load(contentsOf: file).0 } catch let e as CheckpointError {
                throw TrainingError(.unreadableRun, e.description)
            } catch {
                throw TrainingError(.unreadableRun, "\(file.path): \(error)")
            }
            guard d.architecture == a else {
                throw TrainingError(.unreadableRun, "\(file.path) holds \(d.architecture) but the run's config.yaml describes \(a)")
            }
            parameters = d.parameterCount
        }
        return Network(name: name, kind: "discriminator", network: a.name, architecture: a.description, parameters: parameters,
                       checkpoint: saved.latest ? "latest_net_\(name).pth" : nil, savedEpochs: saved.numbered)
    }

    /// Aligned `label: value` lines, as `inspect` prints for checkpoint files.
    public var text: String {
        func pad(_ label: String) -> String { (label + ":").padding(toLength: 14, withPad: " ", startingAt: 0) }
        let indent = String(repeating: " ", count: 14)
        var lines = [pad("run") + path, pad("model") + (direction.isEmpty ? model : "\(model), direction \(direction)"),
                     pad("data") + (data.isEmpty ? "(not recorded)" : data)]
        if model == TrainingRecipe.stargan.rawValue {
            lines.append(pad("iterations") + "\(epochsDone ?? 0) of \(lastEpoch) (losses.jsonl)")
        } else {
            var done = "none yet (epochs \(firstEpoch)…\(lastEpoch) planned)"
            if let epochsDone {
                let source = epochsDoneSource == "losses.jsonl" ? "the last epoch in losses.jsonl, finished or not: no state.json" : "state.json"
                done = "\(epochsDone) of epochs \(firstEpoch)…\(lastEpoch) (\(source))"
            }
            lines.append(pad("epochs done") + done)
        }
        if let iterations { lines.append(pad("iterations") + "\(iterations)") }
        if model != TrainingRecipe.stargan.rawValue {
            lines.append(pad("interrupted") + (interrupted.map { $0 ? "yes" : "no" } ?? "not recorded (no state.json)"))
        }
        let saved = Set(networks.flatMap(\.savedEpochs)).sorted()
        let latest = networks.contains { $0.checkpoint != nil }
        let savedList = (latest ? ["latest"] : []) + saved.map(String.init)
        lines.append(pad("saved epochs") + (savedList.isEmpty ? "none yet" : savedList.joined(separator: ", ")))
        if let it = lastIteration {
            let losses = it.losses.map { "\($0.name) \($0.value.map { String(format: "%.4g", $0) } ?? "nan")" }.joined(separator: ", ")
            lines.append(pad("last losses") + "epoch \(it.epoch) iter \(it.iter), lr \(it.lr.map { String(format: "%.3g", $0) } ?? "nan"): \(losses)")
        } else {
            lines.append(pad("last losses") + "nothing logged yet")
        }
        for (i, n) in networks.enumerated() {
            let count = n.parameters.map { "\($0.formatted()) parameters (\(n.checkpoint!))" } ?? "not saved yet"
            lines.append((i == 0 ? pad("networks") : indent) + "\(n.name.padding(toLength: 4, withPad: " ", startingAt: 0)) \(n.architecture); \(count)")
        }
        lines.append(pad("options") + options.map { "\($0.name) \($0.value)" }.joined(separator: ", "))
        if !unknownConfigKeys.isEmpty { lines.append(pad("ignored") + "config.yaml keys this Gantry does not know: \(unknownConfigKeys.joined(separator: ", "))") }
        lines.append(pad(model == TrainingRecipe.dcgan.rawValue ? "use" : "convert") + inference.joined(separator: "\n" + indent))
        return lines.joined(separator: "\n")
    }
}
