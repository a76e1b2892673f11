import ArgumentParser
import Engine
import Foundation
import Models
import Training

/// `gantry sample -m RUN -n 64 -o grid.png`: new images from a trained DCGAN's generator.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw new images from a DCGAN run's generator as one PNG grid.",
        discussion: """
        gantry sample -m runs/faces -n 64 -o grid.png --seed 7
        The generator runs with its batch norms' running statistics (PyTorch's eval()), so every image is independent of the others drawn with it; the same --seed draws the same noise.
        """
    )

    @Option(name: .shortAndLong, help: "The run folder (gantry train dcgan --run).")
    var model: String

    @Option(name: .short, help: "How many images.")
    var n: Int = 64

    @Option(name: .shortAndLong, help: "The PNG to write.")
    var output: String

    @Option(help: "Images per row of the grid.")
    var columns: Int = 8

    @Option(help: "Seed of the noise vectors (default: a new one each time, printed).")
    var seed: UInt64?

    @Option(help: "'latest' or a saved epoch number.")
    var epoch: String = "latest"

    func validate() throws {
        guard (1...4096).contains(n) else { throw ValidationError("-n must be between 1 and 4096, got \(n)") }
        guard columns >= 1 else { throw ValidationError("--columns must be at least 1") }
        guard output.lowercased().hasSuffix(".png") else { throw ValidationError("-o must name a .png file, got '\(output)'") }
    }

    func run() throws {
        do {
            let url = URL(fileURLWithPath: model)
            guard TrainedRun.isRunFolder(url) else { throw TrainingError(.notInRun, "\(model): not a run folder (no config.yaml)") }
            let run = try TrainedRun(url)
            guard run.options.model == .dcgan else {
                throw TrainingError(.notInRun, "\(model) is a \(run.options.model.rawValue) run: it translates images (gantry convert -m \(model)); sample draws from dcgan runs")
            }
            let o = run.options
            let generator = try DCGAN.generator(nz: o.nz, ngf: o.ngf, batchNorm: o.norm == .batch)
            _ = try run.folder.loadNetworks([("G", generator)], epoch: epoch)
            let seed = self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
            if self.seed == nil { print("seed \(seed)") }
            let backend = try DNNLBackend(algorithm: .winograd)
            let context = ForwardContext(backend: backend, batchNorm: .runningStatistics)
            let noise = try DCGAN.noise(count: n, nz: o.nz, random: RandomSource(seed: seed))
            let images = try generator.forward(noise, context)
            let png = try DCGANTrainer.grid(images, columns: columns)
            // Written beside and renamed into place: the grid appears whole or not at all.
            do { try png.write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw TrainingError(.writeFailed, "\(output): \(error.localizedDescription)")
            }
            print("\(n) images from \(model) (\(epoch)) → \(output)")
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("sample: \(error)")
        }
    }
}
