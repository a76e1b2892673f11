import ArgumentParser
import Pipeline

/// The `gantry` command tree: thin commands over the Engine, Checkpoints and Models libraries.
@main
struct Gantry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gantry",
        abstract: "Translate images between visual domains with pix2pix, CycleGAN and StarGAN generators.",
        version: GantryRelease.version,
        subcommands: [Convert.self, Watch.self, Train.self, Sample.self, Export.self, Inspect.self, Forward.self, Bench.self, TrainBench.self, BenchAllReduce.self, Probe.self, Healthcheck.self]
    )

    /// Tunes the C runtimes (which may start the process again), then runs the command.
    static func main() {
        ProcessTuning.configure()
        main(nil)
    }
}
