import Foundation
import Imaging
import Models
import Yams

extension TrainingOptions {
    /// One option: its name (kebab case, as `gantry train` and config files spell it), the
    /// reference `train.py`'s spelling, and how a value in text sets and shows the field.
    public struct Key: Sendable {
        public let name: String
        public let reference: String
        /// A switch: present on a command line means true.
        public let isFlag: Bool
        let set: @Sendable (inout TrainingOptions, String) throws -> Void
        let get: @Sendable (TrainingOptions) -> String
        /// The recipes that take this option (config.yaml lists only those).
        public var recipes: Set<TrainingRecipe> = Set(TrainingRecipe.allCases)
        /// Further accepted spellings (StarGAN's `main.py` names, e.g. `g_conv_dim` for `ngf`).
        public var aliases: [String] = []
        /// The values a choice takes, for the help.
        public var choices: [String]?

        init(name: String, reference: String, isFlag: Bool, set: @escaping @Sendable (inout TrainingOptions, String) throws -> Void,
             get: @escaping @Sendable (TrainingOptions) -> String) {
            (self.name, self.reference, self.isFlag, self.set, self.get) = (name, reference, isFlag, set, get)
        }

        /// The recipes that take this option; colorization, pix2pix on other data, takes pix2pix's.
        func only(_ recipes: TrainingRecipe...) -> Key {
            var k = self
            k.recipes = Set(recipes)
            if k.recipes.contains(.pix2pix) { k.recipes.insert(.colorization) }
            return k
        }
        func also(_ aliases: String...) -> Key { var k = self; k.aliases = aliases; return k }
        func choosing(_ values: [String]) -> Key { var k = self; k.choices = values; return k }

        /// Both spellings, as `--name` flags.
        public var spellings: [String] { name == reference ? [name] : [name, reference] }
    }

    /// Every option, in the order `config.yaml` lists them.
    public static let keys: [Key] = [
        text("data", "dataroot", \.data).also("image_dir"), text("run", "run", \.run),
        text("net-g", "netG", \.netG).only(.pix2pix, .cyclegan, .cut, .fastcut).choosing(["resnet_9blocks", "resnet_6blocks", "unet_128", "unet_256"]),
        text("net-d", "netD", \.netD).only(.pix2pix, .cyclegan, .cut, .fastcut).choosing(["basic", "n_layers", "pixel"]),
        int("n-layers-d", "n_layers_D", \.nLayersD, min: 0).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("ngf", "ngf", \.ngf, min: 1).also("g_conv_dim"), int("ndf", "ndf", \.ndf, min: 1).also("d_conv_dim"),
        choice("norm", "norm", \.norm).only(.pix2pix, .cyclegan, .dcgan, .cut, .fastcut),
        flag("no-dropout", "no_dropout", \.noDropout).only(.pix2pix, .cyclegan, .cut, .fastcut),
        choice("init-type", "init_type", \.initType).only(.pix2pix, .cyclegan, .cut, .fastcut),
        real("init-gain", "init_gain", \.initGain, min: 0).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("input-nc", "input_nc", \.inputNC, min: 1).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("output-nc", "output_nc", \.outputNC, min: 1).only(.pix2pix, .cyclegan, .cut, .fastcut),
        choice("direction", "direction", \.direction).only(.pix2pix, .cyclegan, .cut, .fastcut),
        choice("preprocess", "preprocess", \.preprocess).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("load-size", "load_size", \.loadSize, min: 1, max: DecodeLimits.largestSide).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("crop-size", "crop_size", \.cropSize, min: 1, max: DecodeLimits.largestSide).also("celeba_crop_size", "rafd_crop_size").only(.pix2pix, .cyclegan, .stargan, .cut, .fastcut),
        flag("no-flip", "no_flip", \.noFlip).only(.pix2pix, .cyclegan, .stargan, .cut, .fastcut),
        flag("serial-batches", "serial_batches", \.serialBatches).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("batch-size", "batch_size", \.batchSize, min: 1),
        Key(name: "max-dataset-size", reference: "max_dataset_size", isFlag: false, set: { o, v in
            o.maxDatasetSize = v == "inf" ? nil : try parseInt(v, "max-dataset-size", min: 1)
        }, get: { $0.maxDatasetSize.map(String.init) ?? "inf" }).only(.pix2pix, .cyclegan, .cut, .fastcut),
        choice("gan-mode", "gan_mode", \.ganMode).only(.pix2pix, .cyclegan, .dcgan, .cut, .fastcut), real("lambda-gp", "lambda_gp", \.lambdaGP, min: 0),
        real("clip", "clip_value", \.clip, min: 0).only(.pix2pix, .cyclegan, .dcgan), int("n-critic", "n_critic", \.nCritic, min: 1),
        choice("optimizer", "optimizer", \.optimizer).only(.pix2pix, .cyclegan, .dcgan),
        real("lambda-l1", "lambda_L1", \.lambdaL1, min: 0).only(.pix2pix),
        real("lambda-a", "lambda_A", \.lambdaA, min: 0).only(.cyclegan), real("lambda-b", "lambda_B", \.lambdaB, min: 0).only(.cyclegan),
        real("lambda-identity", "lambda_identity", \.lambdaIdentity, min: 0).only(.cyclegan),
        int("pool-size", "pool_size", \.poolSize, min: 0).only(.pix2pix, .cyclegan),
        real("ema", "ema", \.ema, min: 0).only(.pix2pix, .cyclegan),
        text("attributes", "attr_path", \.attributes).only(.stargan),
        Key(name: "selected-attrs", reference: "selected_attrs", isFlag: false, set: { o, v in
            o.selectedAttrs = v.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
        }, get: { $0.selectedAttrs.joined(separator: ",") }).only(.stargan),
        choice("hold-out", "hold_out", \.holdOut).only(.stargan),
        Key(name: "domains", reference: "domains", isFlag: false, set: { o, v in
            o.domains = v.split(separator: ",").map(String.init)
        }, get: { $0.domains.joined(separator: ",") }).only(.stargan),
        int("image-size", "image_size", \.imageSize, min: 4, max: DecodeLimits.largestSide).only(.stargan),
        int("nz", "nz", \.nz, min: 1).only(.dcgan),
        real("lambda-gan", "lambda_GAN", \.lambdaGAN, min: 0).only(.cut, .fastcut),
        real("lambda-nce", "lambda_NCE", \.lambdaNCE, min: 0).only(.cut, .fastcut),
        flag("nce-idt", "nce_idt", \.nceIdt).only(.cut, .fastcut),
        Key(name: "nce-layers", reference: "nce_layers", isFlag: false, set: { o, v in
            o.nceLayers = try v.split(separator: ",").map { try parseInt(String($0).trimmingCharacters(in: .whitespaces), "nce-layers", min: 0) }
        }, get: { $0.nceLayers.map(String.init).joined(separator: ",") }).only(.cut, .fastcut),
        int("netf-nc", "netF_nc", \.netFNC, min: 1).only(.cut, .fastcut),
        real("nce-t", "nce_T", \.nceT, min: 0).only(.cut, .fastcut),
        int("num-patches", "num_patches", \.numPatches, min: 1).only(.cut, .fastcut),
        flag("flip-equivariance", "flip_equivariance", \.flipEquivariance).only(.cut, .fastcut),
        flag("no-antialias", "no_antialias", \.noAntialias).only(.cut, .fastcut),
        flag("no-antialias-up", "no_antialias_up", \.noAntialiasUp).only(.cut, .fastcut),
        int("g-repeat-num", "g_repeat_num", \.gRepeatNum, min: 0).only(.stargan),
        int("d-repeat-num", "d_repeat_num", \.dRepeatNum, min: 1).only(.stargan),
        real("lambda-cls", "lambda_cls", \.lambdaCls, min: 0).only(.stargan),
        real("lambda-rec", "lambda_rec", \.lambdaRec, min: 0).only(.stargan),
        int("num-iters", "num_iters", \.numIters, min: 1).only(.stargan),
        int("num-iters-decay", "num_iters_decay", \.numItersDecay, min: 0).only(.stargan),
        int("lr-update-step", "lr_update_step", \.lrUpdateStep, min: 1).only(.stargan),
        Key(name: "d-lr", reference: "d_lr", isFlag: false, set: { o, v in
            guard v != "same" else { o.dLR = nil; return }
            guard let x = Double(v), x.isFinite, x >= 0 else {
                throw TrainingError(.invalidSetting, "--d-lr must be 'same' (as --lr) or a finite number ≥ 0, got '\(v)'")
            }
            o.dLR = x
        }, get: { $0.dLR.map { "\($0)" } ?? "same" }).only(.stargan),
        int("model-save-step", "model_save_step", \.modelSaveStep, min: 1).only(.stargan),
        int("sample-step", "sample_step", \.sampleStep, min: 1).only(.stargan),
        real("lr", "lr", \.lr, min: 0).also("g_lr"), real("beta1", "beta1", \.beta1, min: 0),
        choice("lr-policy", "lr_policy", \.lrPolicy).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("lr-decay-iters", "lr_decay_iters", \.lrDecayIters, min: 1).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("n-epochs", "n_epochs", \.nEpochs, min: 0).only(.pix2pix, .cyclegan, .dcgan, .cut, .fastcut).also("niter"),
        int("n-epochs-decay", "n_epochs_decay", \.nEpochsDecay, min: 0).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("epoch-count", "epoch_count", \.epochCount, min: 1).only(.pix2pix, .cyclegan, .cut, .fastcut),
        int("save-epoch-freq", "save_epoch_freq", \.saveEpochFreq, min: 1).only(.pix2pix, .cyclegan, .dcgan, .cut, .fastcut),
        flag("continue", "continue_train", \.continueTraining), flag("overwrite", "overwrite", \.overwrite),
        text("epoch", "epoch", \.epoch).only(.pix2pix, .cyclegan, .cut, .fastcut),
        Key(name: "seed", reference: "seed", isFlag: false, set: { o, v in
            guard let s = UInt64(v) else { throw TrainingError(.invalidSetting, "--seed must be a whole number ≥ 0, got '\(v)'") }
            o.seed = s
        }, get: { String($0.seed) }),
        Key(name: "threads", reference: "threads", isFlag: false, set: { o, v in
            guard v != "auto" else { o.threads = nil; return }
            let n = try parseInt(v, "threads", min: 1)
            guard n <= 1024 else { throw TrainingError(.invalidSetting, "--threads must be 'auto' or at most 1024, got \(n)") }
            o.threads = n
        }, get: { $0.threads.map(String.init) ?? "auto" }),
    ]

    /// The option spelled `name` (kebab case or the reference's spelling, with or without `--`).
    /// Every spelling is accepted with `-` or `_` between its words (`--g-conv-dim` as well as
    /// the solver's `--g_conv_dim`, `--lambda_l1` as well as `--lambda-l1`).
    public static func key(named name: String) -> Key? {
        let bare = spelling(name.hasPrefix("--") ? String(name.dropFirst(2)) : name)
        return keys.first { key in ([key.name, key.reference] + key.aliases).contains { spelling($0) == bare } }
    }

    /// A name with its word separators made one: what two spellings of an option share.
    static func spelling(_ name: String) -> String { name.replacingOccurrences(of: "_", with: "-") }

    /// Sets the option spelled `name` from its text (`"true"` for a flag given on a command line).
    public mutating func set(_ name: String, to value: String) throws {
        guard let key = Self.key(named: name) else {
            throw TrainingError(.invalidSetting, "unknown option '\(name)'; `gantry train --help` lists them")
        }
        guard key.recipes.contains(model) else {
            let owners = TrainingRecipe.allCases.filter { key.recipes.contains($0) }.map(\.rawValue).joined(separator: " and ")
            throw TrainingError(.invalidSetting, "--\(key.name) is an option of \(owners), not of \(model.rawValue)")
        }
        try key.set(&self, value)
    }

    /// The value of every option as text, keyed by its kebab-case name, in `keys` order.
    public var settings: [(name: String, value: String)] {
        Self.keys.filter { $0.recipes.contains(model) }.map { ($0.name, $0.get(self)) }
    }

    /// The recipe's defaults, then `config` (a config file's keys), then `flags`: later wins.
    /// Either spelling of a key is accepted in both.
    public static func resolve(_ recipe: TrainingRecipe, config: [(String, String)] = [],
                               flags: [(String, String)] = []) throws -> TrainingOptions {
        var options = defaults(for: recipe)
        // A config file may carry other recipes' options (runs written before options were
        // per recipe list them all): they do not apply here. A flag for another recipe is refused.
        for (name, value) in config where key(named: name).map({ !$0.recipes.contains(recipe) }) != true {
            try options.set(name, to: value)
        }
        for (name, value) in flags { try options.set(name, to: value) }
        return options
    }

    /// The keys of a YAML config file (`--config`): a mapping of option names to scalars.
    public static func configEntries(yaml text: String, file: String) throws -> [(String, String)] {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw TrainingError(.invalidSetting, "\(file): not valid YAML (\(error))")
        }
        guard let node else { return [] }
        guard let mapping = node.mapping else {
            throw TrainingError(.invalidSetting, "\(file): expected a mapping of option names to values")
        }
        return try mapping.map { k, v in
            guard let name = k.string, let value = v.scalar?.string else {
                throw TrainingError(.invalidSetting, "\(file): '\(k.string ?? "?")' must map to a single value")
            }
            if name == "model" { return (name, value) }
            guard key(named: name) != nil else { throw TrainingError(.invalidSetting, "\(file): unknown option '\(name)'") }
            return (name, value)
        }.filter { $0.0 != "model" }
    }

    /// `config.yaml`: the recipe and every resolved option, one `name: value` line each.
    public var yaml: String {
        // --overwrite is an act, not a setting: a config reused for another run must not carry it.
        let lines = [("model", model.rawValue)] + settings.filter { $0.name != "overwrite" }.map { ($0.name, $0.value) }
        return lines.map { "\($0.0): \(yamlScalar($0.1))" }.joined(separator: "\n") + "\n"
    }
}

private func yamlScalar(_ s: String) -> String {
    // Quote anything YAML could read as another type or that holds special characters.
    let plain = s.range(of: "^[A-Za-z0-9_./-]+$", options: .regularExpression) != nil
    let ambiguous = ["", "true", "false", "yes", "no", "on", "off", "null", "~"].contains(s.lowercased())
    if plain && !ambiguous { return s }
    return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

private func parseInt(_ v: String, _ name: String, min: Int) throws -> Int {
    guard let n = Int(v), n >= min else { throw TrainingError(.invalidSetting, "--\(name) must be a whole number ≥ \(min), got '\(v)'") }
    return n
}

private func parseBool(_ v: String, _ name: String) throws -> Bool {
    switch v.lowercased() {
    case "true", "yes", "1", "on": return true
    case "false", "no", "0", "off": return false
    default: throw TrainingError(.invalidSetting, "--\(name) is a switch: true or false, got '\(v)'")
    }
}

private func text(_ name: String, _ reference: String, _ path: WritableKeyPath<TrainingOptions, String> & Sendable) -> TrainingOptions.Key {
    .init(name: name, reference: reference, isFlag: false, set: { o, v in o[keyPath: path] = v }, get: { $0[keyPath: path] })
}

private func int(_ name: String, _ reference: String, _ path: WritableKeyPath<TrainingOptions, Int> & Sendable,
                 min: Int, max: Int = .max) -> TrainingOptions.Key {
    .init(name: name, reference: reference, isFlag: false, set: { o, v in
        let n = try parseInt(v, name, min: min)
        guard n <= max else { throw TrainingError(.invalidSetting, "--\(name) must be at most \(max), got \(n)") }
        o[keyPath: path] = n
    }, get: { String($0[keyPath: path]) })
}

private func real(_ name: String, _ reference: String, _ path: WritableKeyPath<TrainingOptions, Double> & Sendable,
                  min: Double) -> TrainingOptions.Key {
    .init(name: name, reference: reference, isFlag: false, set: { o, v in
        guard let x = Double(v), x.isFinite, x >= min else {
            throw TrainingError(.invalidSetting, "--\(name) must be a finite number ≥ \(min), got '\(v)'")
        }
        o[keyPath: path] = x
    }, get: { "\($0[keyPath: path])" })
}

private func flag(_ name: String, _ reference: String, _ path: WritableKeyPath<TrainingOptions, Bool> & Sendable) -> TrainingOptions.Key {
    .init(name: name, reference: reference, isFlag: true, set: { o, v in o[keyPath: path] = try parseBool(v, name) },
          get: { String($0[keyPath: path]) })
}

private func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ reference: String,
                                                        _ path: WritableKeyPath<TrainingOptions, T> & Sendable) -> TrainingOptions.Key
    where T.RawValue == String {
    let values = T.allCases.map(\.rawValue)
    return TrainingOptions.Key(name: name, reference: reference, isFlag: false, set: { o, v in
        guard let x = T(rawValue: v) else {
            throw TrainingError(.invalidSetting, "--\(name) must be one of \(values.joined(separator: ", ")); got '\(v)'")
        }
        o[keyPath: path] = x
    }, get: { $0[keyPath: path].rawValue }).choosing(values)
}

extension TrainingOptions {
    /// Splits a `gantry train` command line (after the recipe) into the config file it names
    /// and its option settings, in order: `--name value`, `--name=value`, and switches alone
    /// (`--no-flip`, `--continue_train`); either spelling of every option.
    public static func parseArguments(_ arguments: [String]) throws -> (config: String?, settings: [(String, String)]) {
        var config: String?, settings: [(String, String)] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--") else {
                throw TrainingError(.invalidSetting, "unexpected argument '\(argument)': options are --name value")
            }
            var name = String(argument.dropFirst(2)), value: String?
            if let eq = name.firstIndex(of: "=") { (name, value) = (String(name[..<eq]), String(name[name.index(after: eq)...])) }
            if name == "config" {
                guard let v = value ?? (i + 1 < arguments.count ? arguments[i + 1] : nil) else {
                    throw TrainingError(.invalidSetting, "--config needs a file")
                }
                config = v
                i += value == nil ? 2 : 1
                continue
            }
            guard let key = key(named: name) else {
                throw TrainingError(.invalidSetting, "unknown option '--\(name)'; `gantry train --help` lists them")
            }
            if key.isFlag && value == nil {
                settings.append((key.name, "true"))
                i += 1
            } else if let value {
                settings.append((key.name, value))
                i += 1
            } else {
                guard i + 1 < arguments.count else { throw TrainingError(.invalidSetting, "--\(name) needs a value") }
                settings.append((key.name, arguments[i + 1]))
                i += 2
            }
        }
        return (config, settings)
    }
}
