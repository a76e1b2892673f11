import ArgumentParser

/// The `gantry` command tree: thin commands over the Engine, Checkpoints and Models libraries.
@main
struct Gantry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gantry",
        abstract: "Translate images between visual domains with pix2pix, CycleGAN and StarGAN generators.",
        version: "0.1.0",
        subcommands: [Convert.self, Watch.self, Train.self, Inspect.self, Forward.self, Bench.self, TrainBench.self, Probe.self]
    )

    /// Sets up the thread runtime (which may start the process again), then runs the command.
    static func main() {
        ThreadWaiting.configure()
        main(nil)
    }
}
