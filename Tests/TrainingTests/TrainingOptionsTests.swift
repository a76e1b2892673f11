import Foundation
import Models
import Runs
import Testing
import Training

/// Option resolution for `gantry train`: the reference's defaults per recipe, both spellings,
/// defaults < config file < flags, config.yaml round trip, and refusals before anything runs.
struct TrainingOptionsTests {
    @Test func defaultsAreTheReferenceRecipes() throws {
        let p = TrainingOptions.defaults(for: .pix2pix)
        #expect(p.netG == "unet_256" && p.norm == .batch && p.ganMode == .vanilla && p.poolSize == 0 && !p.noDropout)
        #expect(p.lambdaL1 == 100)
        let c = TrainingOptions.defaults(for: .cyclegan)
        #expect(c.netG == "resnet_9blocks" && c.norm == .instance && c.ganMode == .lsgan && c.poolSize == 50 && c.noDropout)
        #expect(c.lambdaA == 10 && c.lambdaB == 10 && c.lambdaIdentity == 0.5)
        for o in [p, c] {
            #expect(o.ngf == 64 && o.ndf == 64 && o.netD == "basic" && o.lr == 2e-4 && o.beta1 == 0.5)
            #expect(o.lrPolicy == .linear && o.nEpochs == 100 && o.nEpochsDecay == 100)
            #expect(o.loadSize == 286 && o.cropSize == 256 && !o.noFlip && o.batchSize == 1)
            #expect(o.initType == .normal && o.initGain == 0.02 && o.preprocess == .resizeAndCrop)
        }
        #expect(try p.generatorArchitecture() == .unet(downs: 8, ngf: 64, norm: .batch, dropout: true))
        #expect(try c.generatorArchitecture() == .resnet(blocks: 9, ngf: 64, norm: .instance, dropout: false))
        #expect(try p.discriminatorArchitecture(channels: 6) == .nLayers(3, ndf: 64, norm: .batch, inputChannels: 6))
    }

    /// Every name, reference spelling and alias is accepted with `-` or `_` between its words,
    /// names the same option either way, and no two options share a spelling.
    @Test func everySpellingTakesEitherSeparator() throws {
        var owners: [String: String] = [:]
        for key in TrainingOptions.keys {
            for spelling in [key.name, key.reference] + key.aliases {
                for variant in [spelling.replacingOccurrences(of: "_", with: "-"), spelling.replacingOccurrences(of: "-", with: "_")] {
                    #expect(TrainingOptions.key(named: "--" + variant)?.name == key.name, "--\(variant)")
                    if let other = owners[variant], other != key.name { Issue.record("--\(variant) names both \(other) and \(key.name)") }
                    owners[variant] = key.name
                }
            }
        }
        var o = TrainingOptions.defaults(for: .stargan)
        try o.set("--g-conv-dim", to: "16")
        try o.set("--d_conv_dim", to: "8")
        #expect(o.ngf == 16 && o.ndf == 8)
        #expect(TrainingOptions.key(named: "--g-conv") == nil)
    }

    /// `gantry train RECIPE --help` has a line of help for every option the recipe takes, and
    /// lists no other recipe's.
    @Test func everyOptionHasHelp() throws {
        for recipe in TrainingRecipe.allCases {
            let rows = TrainingOptions.helpRows(for: recipe)
            #expect(rows.count == TrainingOptions.keys.filter { $0.recipes.contains(recipe) }.count)
            for row in rows { #expect(row.help.count > 10, "\(recipe): \(row.spellings) has no help") }
        }
        let pix2pix = TrainingOptions.helpRows(for: .pix2pix)
        #expect(pix2pix.contains { $0.spellings == ["--net-g", "--netG"] && $0.help.contains("(default: unet_256)") && $0.help.contains("unet_128") })
        #expect(!pix2pix.contains { $0.spellings.contains("--num-iters") })
        #expect(TrainingOptions.helpRows(for: .stargan).contains { $0.spellings == ["--ngf", "--g_conv_dim"] })
    }

    /// A reference command line works with its own spellings: `--netG`, `--lambda_L1`, `--continue_train`.
    @Test func referenceSpellingsEqualKebabCase() throws {
        let reference = try TrainingOptions.resolve(.pix2pix, flags: [
            ("--dataroot", "datasets/facades"), ("--netG", "unet_128"), ("--lambda_L1", "50"), ("--n_epochs", "7"),
            ("--continue_train", "true"), ("--direction", "BtoA"), ("--crop_size", "128"), ("--load_size", "142"),
        ])
        let kebab = try TrainingOptions.resolve(.pix2pix, flags: [
            ("--data", "datasets/facades"), ("--net-g", "unet_128"), ("--lambda-l1", "50"), ("--n-epochs", "7"),
            ("--continue", "true"), ("--direction", "BtoA"), ("--crop-size", "128"), ("--load-size", "142"),
        ])
        #expect(reference == kebab)
        #expect(kebab.netG == "unet_128" && kebab.lambdaL1 == 50 && kebab.nEpochs == 7 && kebab.continueTraining)
        #expect(kebab.direction == .bToA && kebab.data == "datasets/facades")
    }

    /// Runs written before options were per recipe list every option: they still read, and a
    /// config file's options of another recipe are passed over, while such a flag is refused.
    @Test func otherRecipesOptionsInAConfigFileArePassedOver() throws {
        let config = try TrainingOptions.configEntries(yaml: "lambda-a: 3\nlambda-l1: 50\nnum-iters: 9\n", file: "c.yaml")
        let o = try TrainingOptions.resolve(.pix2pix, config: config)
        #expect(o.lambdaL1 == 50 && o.lambdaA == 10 && o.numIters == 200_000)
        #expect(throws: TrainingError.self) { try TrainingOptions.resolve(.pix2pix, flags: [("lambda-a", "3")]) }
    }

    /// The CUT repository's defaults (options/*.py, models/cut_model.py) for both modes.
    @Test func cutDefaultsFollowTheCUTRepository() throws {
        let cut = TrainingOptions.defaults(for: .cut), fast = TrainingOptions.defaults(for: .fastcut)
        for o in [cut, fast] {
            #expect(o.netG == "resnet_9blocks" && o.netD == "basic" && o.norm == .instance && o.noDropout && o.initType == .xavier)
            #expect(o.initGain == 0.02 && o.ganMode == .lsgan && o.poolSize == 0 && o.lr == 0.0002 && o.beta1 == 0.5)
            #expect(o.loadSize == 286 && o.cropSize == 256 && o.batchSize == 1 && o.lambdaGAN == 1 && o.netFNC == 256)
            #expect(o.nceLayers == [0, 4, 8, 12, 16] && o.numPatches == 256 && o.nceT == 0.07 && !o.noAntialias && !o.noAntialiasUp)
        }
        #expect(cut.lambdaNCE == 1 && cut.nceIdt && !cut.flipEquivariance && cut.nEpochs == 200 && cut.nEpochsDecay == 200)
        #expect(fast.lambdaNCE == 10 && !fast.nceIdt && fast.flipEquivariance && fast.nEpochs == 150 && fast.nEpochsDecay == 50)
        #expect(try cut.generatorArchitecture() == .cut())
        #expect(try cut.discriminatorArchitecture(channels: 3) == .nLayers(3, ndf: 64, norm: .instance, antialias: true))
        let plain = try TrainingOptions.resolve(.cut, flags: [("no-antialias", "true"), ("no_antialias_up", "true")])
        #expect(try plain.generatorArchitecture() == .resnet(blocks: 9))
        #expect(try plain.discriminatorArchitecture(channels: 3) == .nLayers(3, ndf: 64, norm: .instance))
    }

    @Test func flagsOverrideTheConfigFileWhichOverridesDefaults() throws {
        let config = try TrainingOptions.configEntries(yaml: "ngf: 32\nlr: 0.001\nno_flip: true\n", file: "c.yaml")
        let o = try TrainingOptions.resolve(.cyclegan, config: config, flags: [("--lr", "0.0005")])
        #expect(o.ngf == 32 && o.noFlip && o.lr == 0.0005 && o.ndf == 64)
    }

    @Test(arguments: TrainingRecipe.allCases)
    func configYAMLHoldsEveryOptionAndReadsBack(_ recipe: TrainingRecipe) throws {
        var o = TrainingOptions.defaults(for: recipe)
        try o.set("data", to: "my data/with \"quotes\"")
        try o.set("run", to: "runs/x")
        switch recipe {
        case .stargan: try o.set("selected-attrs", to: "Black_Hair,Male")
        case .dcgan: try o.set("nz", to: "64")
        case .pix2pix, .colorization, .cyclegan: try o.set("max-dataset-size", to: "20")
        case .cut, .fastcut: try o.set("nce-layers", to: "0,4,8")
        }
        try o.set("seed", to: "42")
        let text = o.yaml
        #expect(text.hasPrefix("model: \(recipe.rawValue)\n"))
        // Each recipe's own options, and only those; --overwrite is an act, never written.
        #expect(text.split(separator: "\n").count == TrainingOptions.keys.filter { $0.recipes.contains(recipe) && $0.name != "overwrite" }.count + 1)
        #expect(!text.contains("overwrite"))
        #expect(text.contains("num-iters:") == (recipe == .stargan) && text.contains("lambda-l1:") == recipe.judgesPairs)
        let back = try TrainingOptions.resolve(recipe, config: TrainingOptions.configEntries(yaml: text, file: "config.yaml"))
        #expect(back == o)
    }

    @Test func refusalsNameTheOption() throws {
        func message(_ recipe: TrainingRecipe, _ flags: [(String, String)]) -> String {
            do {
                try TrainingOptions.resolve(recipe, flags: [("data", "d"), ("run", "r")] + flags).validate()
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(message(.cyclegan, []) == "accepted")
        #expect(message(.pix2pix, []) == "accepted")
        #expect(message(.cyclegan, [("output-nc", "1")]).contains("--lambda-identity"))
        #expect(message(.cyclegan, [("output-nc", "1"), ("lambda-identity", "0")]) == "accepted")
        #expect(message(.cut, []) == "accepted" && message(.fastcut, []) == "accepted")
        #expect(message(.cut, [("nce-layers", "4,0")]).contains("--nce-layers 4,0 must be distinct ascending"))
        #expect(message(.cut, [("nce-layers", "0,40")]).contains("below 32"))
        #expect(message(.cut, [("net-g", "unet_256")]).contains("ResNet generator"))
        #expect(message(.cut, [("output-nc", "1")]).contains("--nce-idt=false"))
        #expect(message(.fastcut, [("output-nc", "1")]) == "accepted")
        #expect(message(.cut, [("lambda-nce", "0")]).contains("--lambda-nce must be above 0"))
        #expect(message(.cyclegan, [("nce-t", "0.1")]).contains("--nce-t is an option of cut and fastcut"))
        #expect(message(.pix2pix, [("crop-size", "300")]).contains("--crop-size 300 is larger than --load-size 286"))
        #expect(message(.pix2pix, [("crop-size", "200"), ("load-size", "200")]).contains("multiple of 256"))
        #expect(message(.pix2pix, [("norm", "group")]).contains("--norm must be one of instance, batch, none"))
        #expect(message(.pix2pix, [("net-g", "unet_512")]).contains("--net-g must be"))
        #expect(message(.pix2pix, [("net-d", "huge")]).contains("--net-d must be"))
        #expect(message(.pix2pix, [("lr", "-1")]).contains("--lr must be a finite number"))
        #expect(message(.pix2pix, [("lr", "nan")]).contains("--lr must be a finite number"))
        #expect(message(.pix2pix, [("batch-size", "0")]).contains("--batch-size must be a whole number ≥ 1"))
        #expect(message(.pix2pix, [("epoch", "soon")]).contains("--epoch must be 'latest'"))
        #expect(message(.pix2pix, [("unknown-thing", "1")]).contains("unknown option 'unknown-thing'"))
        #expect(message(.pix2pix, [("data", "")]).contains("--data"))
        #expect(throws: TrainingError.self) { try TrainingOptions.configEntries(yaml: "- a\n- b\n", file: "c.yaml") }
        #expect(throws: TrainingError.self) { try TrainingOptions.configEntries(yaml: "netG: [a, b]\n", file: "c.yaml") }
        #expect(throws: TrainingError.self) { try TrainingOptions.configEntries(yaml: "bogus: 1\n", file: "c.yaml") }
    }

    @Test func learningRatePolicyFollowsTheOptions() throws {
        var o = TrainingOptions.defaults(for: .cyclegan)
        try o.set("n_epochs", to: "3")
        try o.set("n_epochs_decay", to: "4")
        #expect(o.learningRatePolicy == .linear(nEpochs: 3, nEpochsDecay: 4, epochCount: 1))
        try o.set("lr-policy", to: "step")
        #expect(o.learningRatePolicy == .step(decayEvery: 50))
        try o.set("lr_policy", to: "cosine")
        #expect(o.learningRatePolicy == .cosine(tMax: 3))
    }
}
