import Checkpoints
import Engine
import Foundation
import Models
import Runs

/// How long a run trains, and so what its schedules, cadences and log count in.
public enum RunLength: Equatable, Sendable {
    /// The epochs `first...last`, a pass over the data each; schedules step after each epoch.
    case epochs(ClosedRange<Int>)
    /// `n` iterations over passes of freshly shuffled data (StarGAN's solver); schedules step
    /// after each iteration, and the log counts iterations in epoch 1.
    case iterations(Int)
}

/// When the loop saves and draws, in the run's unit (epochs or iterations). The run's last unit
/// always saves the resumable state, the curves, a sample grid and the page.
public struct Cadence: Sendable {
    /// The resumable state and `latest_net_*`.
    public var state: Int
    /// Numbered checkpoints (`<epoch>_net_*`, or the recipe's own, see `Recipe.saveNumbered`).
    public var numbered: Int
    /// Sample grids, the loss curves and `index.html`.
    public var samples: Int
    /// A numbered checkpoint at the last unit too, whatever `numbered` says.
    public var numberedAtEnd: Bool

    public init(state: Int = 1, numbered: Int, samples: Int = 1, numberedAtEnd: Bool = false) {
        (self.state, self.numbered, self.samples, self.numberedAtEnd) = (state, numbered, samples, numberedAtEnd)
    }
}

/// An optimizer of a recipe, by the name its state is saved under, with the learning-rate
/// schedule the loop steps (nil: a constant rate).
public struct RecipeOptimizer {
    public let name: String
    public let optimizer: any Optimizer
    public let schedule: LearningRateScheduler?

    public init(_ name: String, _ optimizer: any Optimizer, schedule: LearningRateScheduler? = nil) {
        (self.name, self.optimizer, self.schedule) = (name, optimizer, schedule)
    }
}

/// A reference training recipe: its networks, optimizers and schedules, one iteration, its sample
/// grid and what it exports. `Trainer` — the one loop — runs any recipe: data order and prefetch,
/// schedules, progress, stop requests, divergence, checkpoint cadence, the run folder, curves,
/// `index.html` and `--continue`. A recipe never writes the run folder's shared files itself.
public protocol Recipe: AnyObject {
    /// The resolved options, as `config.yaml` records them (with anything the recipe learned
    /// from its data, e.g. StarGAN's domains).
    var options: TrainingOptions { get }
    var data: any TrainingData { get }
    var length: RunLength { get }
    var cadence: Cadence { get }
    /// The networks, in the order they are initialised and saved (`latest_net_<name>.pth`).
    var networks: [(name: String, module: Module)] { get }
    /// The optimizers, G's first: its learning rate is the one logged.
    var optimizers: [RecipeOptimizer] { get }
    /// The losses a critic-only iteration leaves NaN (not a divergence).
    var generatorTerms: Set<String> { get }
    /// One iteration on a batch (`data`'s parts, stacked); the G step only when `updateGenerator`.
    func step(_ batch: [Tensor], updateGenerator: Bool) throws -> [(name: String, value: Double)]
    /// The sample grid as PNG bytes, drawn by the networks as they are now (nil: none to draw);
    /// `lastBatch` is the loop's most recent batch.
    func samples(lastBatch: [Tensor]?) throws -> Data?
    /// Writes the numbered checkpoint of unit `n` (default: `<n>_net_<name>.pth` and `.safetensors`).
    func saveNumbered(_ n: Int, in run: RunFolder) throws
    /// State beyond networks and optimizers that an exact continuation needs (CycleGAN's image
    /// pools), as named tensors; nil when there is none.
    func extraState() throws -> StateDict?
    func restoreExtraState(_ tensors: StateDict, path: String) throws
    /// Files the recipe adds to a run folder when training starts (name → contents).
    var startFiles: [(name: String, contents: String)] { get }
    /// Whether `--continue` may start from saved weights alone (`--epoch N`, or a folder of
    /// reference-named `.pth` files without Gantry's state).
    var continuesFromWeights: Bool { get }
}

extension Recipe {
    public func saveNumbered(_ n: Int, in run: RunFolder) throws { try run.saveNetworks(networks, epoch: String(n)) }
    public func extraState() throws -> StateDict? { nil }
    public func restoreExtraState(_ tensors: StateDict, path: String) throws {}
    public var startFiles: [(name: String, contents: String)] { [] }
    public var continuesFromWeights: Bool { if case .epochs = length { true } else { false } }

}

/// The recipe `options.model` names, built and initialised (from `random`) on `backend`; `shard`
/// for a rank of a data-parallel job.
public func makeRecipe(_ options: TrainingOptions, backend: ConvolutionBackend, random: RandomSource, shard: BatchShard? = nil) throws -> any Recipe {
    switch options.model {
    case .pix2pix, .colorization: try Pix2PixRecipe(options, backend: backend, random: random, shard: shard)
    case .cyclegan: try CycleGANRecipe(options, backend: backend, random: random, shard: shard)
    case .cut, .fastcut: try CUTRecipe(options, backend: backend, random: random, shard: shard)
    case .stargan: try StarGANRecipe(options, backend: backend, random: random, shard: shard)
    case .dcgan: try DCGANRecipe(options, backend: backend, random: random, shard: shard)
    }
}
