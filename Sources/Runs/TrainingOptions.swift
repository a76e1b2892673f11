import Models

/// Which reference recipe a run trains.
public enum TrainingRecipe: String, Codable, Sendable, CaseIterable {
    case pix2pix, cyclegan, stargan, dcgan
    /// pix2pix on L → ab of CIELab (the reference's `--model colorization`).
    case colorization
    /// Contrastive unpaired translation (taesungp/contrastive-unpaired-translation, `--model cut`
    /// with `--CUT_mode CUT` or `FastCUT`).
    case cut, fastcut

    /// Whether D judges the input and output together (pix2pix and colorization).
    public var judgesPairs: Bool { self == .pix2pix || self == .colorization }
    /// CUT or FastCUT: one generator A → B, PatchNCE on its encoder.
    public var isContrastive: Bool { self == .cut || self == .fastcut }
}

/// Every option of the reference's `train.py` for pix2pix and CycleGAN (plus Gantry's seed,
/// threads and hinge loss), resolved: the recipe's defaults, overridden by a config file,
/// overridden by flags (`TrainingOptions.resolve`). `RUN/config.yaml` is this value.
public struct TrainingOptions: Codable, Equatable, Sendable {
    public var model: TrainingRecipe
    public var data = ""
    public var run = ""
    public var netG = "resnet_9blocks"
    public var netD = "basic"
    public var nLayersD = 3
    public var ngf = 64
    public var ndf = 64
    public var norm = GeneratorArchitecture.Norm.instance
    public var noDropout = false
    public var initType = InitType.normal
    public var initGain = 0.02
    public var inputNC = 3
    public var outputNC = 3
    public var direction = Direction.aToB
    public var preprocess = Preprocess.resizeAndCrop
    public var loadSize = 286
    public var cropSize = 256
    public var noFlip = false
    public var serialBatches = false
    public var batchSize = 1
    /// nil: every image (the reference's `inf`).
    public var maxDatasetSize: Int?
    public var ganMode = GANObjective.lsgan
    /// WGAN-GP's penalty weight (`--gan-mode wgangp` only; 0 trains as the reference does,
    /// which never applies the penalty it defines).
    public var lambdaGP = 10.0
    /// WGAN's clipping bound for the critic's weights (`--gan-mode wgan`).
    public var clip = 0.01
    /// Critic steps per generator step (WGAN's n_critic; the recipes' default 1).
    public var nCritic = 1
    /// `auto`: RMSprop for `--gan-mode wgan` (as the WGAN paper), Adam otherwise (the reference).
    public var optimizer = OptimizerChoice.auto
    public var lambdaL1 = 100.0
    /// Decay of the generators' exponential moving average (0: none); see `GeneratorAverage`.
    public var ema = 0.0
    public var lambdaA = 10.0
    public var lambdaB = 10.0
    public var lambdaIdentity = 0.5
    public var poolSize = 50
    public var lr = 0.0002
    public var beta1 = 0.5
    public var lrPolicy = LRPolicyName.linear
    public var lrDecayIters = 50
    public var nEpochs = 100
    public var nEpochsDecay = 100
    public var epochCount = 1
    public var saveEpochFreq = 5
    public var continueTraining = false
    /// Start a fresh run in a folder that already holds one (its files are replaced).
    public var overwrite = false
    public var epoch = "latest"
    public var seed: UInt64 = 0
    /// nil: one per core.
    public var threads: Int?

    // StarGAN (yunjey/stargan's main.py; its names are accepted too).
    /// An attribute table (CelebA's `list_attr_celeba.txt` or CSV); empty: a folder per domain.
    public var attributes = ""
    /// The attribute columns to train on (comma- or space-separated on a command line).
    public var selectedAttrs: [String] = []
    /// Which images of an attribute table stay out of training (see `HoldOut`).
    public var holdOut = HoldOut.auto
    /// The label columns in order (domain folders or selected attributes), written by training:
    /// a run's generator takes one condition value per entry.
    public var domains: [String] = []
    public var imageSize = 128
    public var gRepeatNum = 6
    public var dRepeatNum = 6
    public var lambdaCls = 1.0
    public var lambdaRec = 10.0
    public var numIters = 200_000
    public var numItersDecay = 100_000
    public var lrUpdateStep = 1000
    /// StarGAN's `d_lr`: the discriminator's learning rate; nil follows `lr` (`g_lr`).
    public var dLR: Double?
    public var modelSaveStep = 10_000
    public var sampleStep = 1000

    // CUT and FastCUT (models/cut_model.py of the CUT repository).
    public var lambdaGAN = 1.0
    public var lambdaNCE = 1.0
    /// NCE of (B, G(B)) too (`--nce_idt`; CUT on, FastCUT off).
    public var nceIdt = true
    /// G's Sequential indices whose outputs PatchNCE compares.
    public var nceLayers = [0, 4, 8, 12, 16]
    /// Width of PatchSampleF's heads.
    public var netFNC = 256
    public var nceT = 0.07
    public var numPatches = 256
    public var flipEquivariance = false
    /// Stride-2 convolutions instead of CUT's blur down-sampling (G and D).
    public var noAntialias = false
    /// Transposed convolutions instead of CUT's blur up-sampling (G).
    public var noAntialiasUp = false

    // DCGAN (pytorch/examples dcgan/main.py).
    /// Length of the noise vector z.
    public var nz = 100

    public enum Direction: String, Codable, Sendable, CaseIterable {
        case aToB = "AtoB", bToA = "BtoA"
    }

    /// The reference's `--preprocess` choices.
    public enum Preprocess: String, Codable, Sendable, CaseIterable {
        case resizeAndCrop = "resize_and_crop", crop, scaleWidth = "scale_width"
        case scaleWidthAndCrop = "scale_width_and_crop", none
    }

    /// StarGAN's test split. The solver's CelebA loader shuffles the table's lines with Python's
    /// `random.seed(1234)` and keeps the first 1,999 for testing; `auto` does that for tables in
    /// CelebA's format and holds nothing out of CSV tables (Gantry's own format) or folders.
    public enum HoldOut: String, Codable, Sendable, CaseIterable {
        case auto, reference, none
    }

    public enum OptimizerChoice: String, Codable, Sendable, CaseIterable {
        case auto, adam, rmsprop
    }

    /// The optimizer `--optimizer` and `--gan-mode` select.
    public var resolvedOptimizer: OptimizerChoice {
        optimizer != .auto ? optimizer : ganMode == .wgan ? .rmsprop : .adam
    }

    public enum LRPolicyName: String, Codable, Sendable, CaseIterable {
        case linear, step, plateau, cosine
    }

    /// The reference's defaults for `recipe` after its `modify_commandline_options`: pix2pix
    /// takes unet_256, batch norm, vanilla GAN, pool 0 and dropout; CycleGAN resnet_9blocks,
    /// instance norm, lsgan, pool 50 and no dropout.
    public static func defaults(for recipe: TrainingRecipe) -> TrainingOptions {
        var o = TrainingOptions(model: recipe)
        switch recipe {
        case .pix2pix:
            (o.netG, o.norm, o.ganMode, o.poolSize, o.noDropout) = ("unet_256", .batch, .vanilla, 0, false)
        case .colorization:
            // pix2pix's setter, then the colorization dataset's: L in (1 channel), ab out (2).
            (o.netG, o.norm, o.ganMode, o.poolSize, o.noDropout) = ("unet_256", .batch, .vanilla, 0, false)
            (o.inputNC, o.outputNC, o.direction) = (1, 2, .aToB)
        case .cyclegan:
            (o.netG, o.norm, o.ganMode, o.poolSize, o.noDropout) = ("resnet_9blocks", .instance, .lsgan, 50, true)
        case .stargan:
            // main.py's defaults (CelebA): crop 178, image 128, batch 16, lr 1e-4, n_critic 5.
            (o.cropSize, o.batchSize, o.lr, o.nCritic, o.ganMode, o.norm) = (178, 16, 1e-4, 5, .wgangp, .instance)
        case .cut, .fastcut:
            // The CUT repository's base and train options, then cut_model's: xavier init, no
            // dropout, lsgan, no pool; FastCUT: λ_NCE 10, no NCE identity, flips, 150 + 50 epochs.
            (o.netG, o.norm, o.ganMode, o.poolSize, o.noDropout, o.initType) = ("resnet_9blocks", .instance, .lsgan, 0, true, .xavier)
            (o.nEpochs, o.nEpochsDecay) = (200, 200)
            if recipe == .fastcut {
                (o.lambdaNCE, o.nceIdt, o.flipEquivariance, o.nEpochs, o.nEpochsDecay) = (10, false, true, 150, 50)
            }
        case .dcgan:
            // The example's defaults: 64×64, batch 128, 25 epochs, Adam 2e-4 β1 0.5, BCE (vanilla).
            (o.imageSize, o.batchSize, o.nEpochs, o.nEpochsDecay, o.ganMode, o.norm) = (64, 128, 25, 0, .vanilla, .batch)
        }
        return o
    }

    private init(model: TrainingRecipe) { self.model = model }

    /// The generator `--net-g`, `--ngf`, `--norm`, `--no-dropout` and the channels describe.
    public func generatorArchitecture() throws -> GeneratorArchitecture {
        let dropout = !noDropout
        switch netG {
        case "resnet_9blocks", "resnet_6blocks":
            let blocks = netG == "resnet_9blocks" ? 9 : 6
            if model.isContrastive {
                return .cut(blocks: blocks, ngf: ngf, norm: norm, dropout: dropout, antialias: !noAntialias,
                            antialiasUp: !noAntialiasUp, inputChannels: inputNC, outputChannels: outputNC)
            }
            return .resnet(blocks: blocks, ngf: ngf, norm: norm, dropout: dropout,
                           inputChannels: inputNC, outputChannels: outputNC)
        case "unet_128", "unet_256":
            return .unet(downs: netG == "unet_256" ? 8 : 7, ngf: ngf, norm: norm, dropout: dropout,
                         inputChannels: inputNC, outputChannels: outputNC)
        default:
            throw TrainingError(.invalidSetting, "--net-g must be resnet_9blocks, resnet_6blocks, unet_128 or unet_256; got '\(netG)'")
        }
    }

    /// The discriminator(s): pix2pix's judges cat(A, B); CycleGAN's D_A judges B (output_nc
    /// channels) — `channels` says which.
    public func discriminatorArchitecture(channels: Int) throws -> DiscriminatorArchitecture {
        switch netD {
        case "basic", "n_layers":
            // CUT's D blurs as its G does, unless --no_antialias.
            return .nLayers(netD == "basic" ? 3 : nLayersD, ndf: ndf, norm: norm, inputChannels: channels,
                            antialias: model.isContrastive && !noAntialias)
        case "pixel": return .pixel(ndf: ndf, norm: norm, inputChannels: channels)
        default: throw TrainingError(.invalidSetting, "--net-d must be basic, n_layers or pixel; got '\(netD)'")
        }
    }

    /// The learning-rate policy `--lr-policy` and its settings describe, as `get_scheduler` builds it.
    public var learningRatePolicy: LearningRatePolicy {
        switch lrPolicy {
        case .linear: return .linear(nEpochs: nEpochs, nEpochsDecay: nEpochsDecay, epochCount: epochCount)
        case .step: return .step(decayEvery: lrDecayIters)
        case .plateau: return .plateau
        case .cosine: return .cosine(tMax: nEpochs)
        }
    }
}

extension TrainingOptions {
    /// Refuses combinations that cannot train, before anything runs: one message each, naming
    /// the options.
    public func validate() throws {
        guard !data.isEmpty else { throw TrainingError(.invalidSetting, "--data (the dataset folder) is required") }
        guard !run.isEmpty else { throw TrainingError(.invalidSetting, "--run (the run folder to write) is required") }
        if model == .stargan {
            try validateStarGAN()
            return
        }
        if model == .dcgan {
            guard [.batch, .none].contains(norm) else { throw TrainingError(.invalidSetting, "--norm for dcgan is batch or none, got \(norm.rawValue)") }
            if !(0..<1).contains(beta1) { throw TrainingError(.invalidSetting, "--beta1 must be in [0, 1), got \(beta1)") }
            return
        }
        let generator = try generatorArchitecture()
        _ = try discriminatorArchitecture(channels: model.judgesPairs ? inputNC + outputNC : outputNC)
        if model == .colorization && (inputNC != 1 || outputNC != 2 || direction != .aToB) {
            throw TrainingError(.invalidSetting, "colorization predicts ab (2 channels) from L (1 channel), A to B: --input-nc 1 --output-nc 2 --direction AtoB (got \(inputNC), \(outputNC), \(direction.rawValue)); for another mapping train pix2pix")
        }
        if model.isContrastive { try validateContrastive(generator) }
        if model == .cyclegan && lambdaIdentity > 0 && inputNC != outputNC {
            throw TrainingError(.invalidSetting, "--lambda-identity \(lambdaIdentity) needs --input-nc = --output-nc (got \(inputNC) and \(outputNC)): G_A(B) must be comparable with B; set --lambda-identity 0")
        }
        if [.resizeAndCrop, .scaleWidthAndCrop].contains(preprocess) && cropSize > loadSize {
            throw TrainingError(.invalidSetting, "--crop-size \(cropSize) is larger than --load-size \(loadSize): the random crop must fit in the resized image")
        }
        if generator.family == .unet && preprocess != .none && cropSize % generator.sizeMultiple != 0 {
            throw TrainingError(.invalidSetting, "--net-g \(netG) needs crops whose side is a multiple of \(generator.sizeMultiple); --crop-size is \(cropSize) (use --net-g unet_\(cropSize % 128 == 0 ? 128 : 256) or a crop of \(generator.sizeMultiple))")
        }
        if !(0..<1).contains(beta1) { throw TrainingError(.invalidSetting, "--beta1 must be in [0, 1), got \(beta1)") }
        if !(0..<1).contains(ema) { throw TrainingError(.invalidSetting, "--ema must be in [0, 1) (0: no average; 0.999 is usual), got \(ema)") }
        if epoch != "latest" && Int(epoch) == nil {
            throw TrainingError(.invalidSetting, "--epoch must be 'latest' or an epoch number, got '\(epoch)'")
        }
    }
}

extension TrainingOptions {
    func validateContrastive(_ generator: GeneratorArchitecture) throws {
        guard generator.family == .resnet else {
            throw TrainingError(.invalidSetting, "--net-g \(netG): CUT takes its NCE features from a ResNet generator's layers; use resnet_9blocks or resnet_6blocks")
        }
        // G's Sequential: stem (pad, conv, norm, ReLU), two downs, the blocks, two ups, pad, conv, tanh.
        let layers = 4 + 2 * (generator.antialias ? 4 : 3) + generator.depth + 2 * (generator.antialiasUp ? 4 : 3) + 3
        guard !nceLayers.isEmpty, nceLayers == nceLayers.sorted(), Set(nceLayers).count == nceLayers.count,
              nceLayers.allSatisfy({ (0..<layers).contains($0) }) else {
            throw TrainingError(.invalidSetting, "--nce-layers \(nceLayers.map(String.init).joined(separator: ",")) must be distinct ascending layer indices of G below \(layers) (CUT's default 0,4,8,12,16)")
        }
        if nceIdt && inputNC != outputNC {
            throw TrainingError(.invalidSetting, "--nce-idt needs --input-nc = --output-nc (got \(inputNC) and \(outputNC)): G(B) must be a valid input; set --nce-idt=false")
        }
        if lambdaNCE <= 0 {
            throw TrainingError(.invalidSetting, "--lambda-nce must be above 0 (CUT without its NCE loss is a plain GAN, and the CUT repository fails on it too)")
        }
        if !(nceT > 0) { throw TrainingError(.invalidSetting, "--nce-t must be above 0, got \(nceT)") }
    }

    func validateStarGAN() throws {
        if !attributes.isEmpty && selectedAttrs.isEmpty {
            throw TrainingError(.invalidSetting, "--attributes needs --selected-attrs: the columns to train on (e.g. Black_Hair,Blond_Hair,Brown_Hair,Male,Young)")
        }
        if attributes.isEmpty && holdOut == .reference {
            throw TrainingError(.invalidSetting, "--hold-out reference is the solver's CelebA split of an attribute table: give the table with --attributes FILE")
        }
        if attributes.isEmpty && !selectedAttrs.isEmpty {
            throw TrainingError(.invalidSetting, "--selected-attrs chooses columns of an attribute table: give it with --attributes FILE")
        }
        // G halves twice and doubles twice; D halves d-repeat-num times into its class head's kernel.
        guard imageSize % 4 == 0, imageSize >> dRepeatNum >= 1, imageSize % (1 << min(dRepeatNum, 30)) == 0 else {
            throw TrainingError(.invalidSetting, "--image-size \(imageSize) must be a multiple of 4 and of 2^d-repeat-num (\(1 << min(dRepeatNum, 30)))")
        }
        if !(0..<1).contains(beta1) { throw TrainingError(.invalidSetting, "--beta1 must be in [0, 1), got \(beta1)") }
        if numItersDecay > numIters { throw TrainingError(.invalidSetting, "--num-iters-decay \(numItersDecay) exceeds --num-iters \(numIters)") }
    }

    /// StarGAN's networks for `domains` label columns.
    public func starGANArchitectures(domains: Int) -> (generator: GeneratorArchitecture, discriminator: DiscriminatorArchitecture) {
        (.stargan(conditions: domains, convDim: ngf, repeats: gRepeatNum),
         .stargan(imageSize: imageSize, convDim: ndf, cDim: domains, repeatNum: dRepeatNum))
    }
}
