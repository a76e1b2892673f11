import ArgumentParser
import AtomicFiles
import Engine
import Foundation
import Models
import Imaging
import Pipeline
import Runs
import Training

/// `gantry sample -m RUN -n 64 -o grid.png`: new images from a trained DCGAN's generator;
/// `gantry sample -m RUN -o results/` on a StarGAN run: the solver's test mode.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw new images from a DCGAN run as one PNG grid, or run a StarGAN run's test mode.",
        discussion: """
        gantry sample -m runs/faces -n 64 -o grid.png --seed 7
        The generator runs with its batch norms' running statistics (PyTorch's eval()), so every image is independent of the others drawn with it; the same --seed draws the same noise.
        gantry sample -m runs/celeba -o runs/celeba/results
        On a StarGAN run, yunjey/stargan's --mode test: the test images (CelebA's 1,999 held out by the solver's split, listed in held_out.txt; for domain folders and CSV tables every image of --data, e.g. a RaFD test folder) each translated into every domain as the solver's create_labels does (a hair colour set exclusively, other attributes flipped; one-hot for folders), written --batch-size rows per file as 1-images.png, 2-images.png, …: the real image, then one column per domain. --epoch N takes the run's models/N-G.ckpt.
        """
    )

    @Option(name: .shortAndLong, help: "The run folder (gantry train dcgan --run).")
    var model: String

    @Option(name: .short, help: "How many images.")
    var n: Int = 64

    @Option(name: .shortAndLong, help: "The grid to write (dcgan; .png, .jpg, .tif or .webp); the folder for the result files (stargan).")
    var output: String

    @Option(help: "StarGAN: the test images' folder, if not the run's --data.")
    var data: String?

    @Option(help: "StarGAN: the attribute table, if not the run's --attributes.")
    var attributes: String?

    @Flag(help: "StarGAN: replace result files already in the output folder.")
    var overwrite = false

    @Option(help: "Images per row of the grid.")
    var columns: Int = 8

    @Option(help: "Seed of the noise vectors (default: a new one each time, printed).")
    var seed: UInt64?

    @Option(help: "'latest' or a saved epoch (dcgan) or iteration (stargan) number.")
    var epoch: String = "latest"

    func validate() throws {
        guard (1...4096).contains(n) else { throw ValidationError("-n must be between 1 and 4096, got \(n)") }
        guard columns >= 1 else { throw ValidationError("--columns must be at least 1") }
    }

    func run() throws {
        do {
            let url = URL(fileURLWithPath: model)
            guard TrainedRun.isRunFolder(url) else { throw TrainingError(.notInRun, "\(model): not a run folder (no config.yaml)") }
            let run = try TrainedRun(url)
            if run.options.model == .stargan {
                try test(run)
                return
            }
            guard let format = ImageFormat(fileExtension: URL(fileURLWithPath: output).pathExtension) else {
                throw fail("-o must name a .png, .jpg, .tif or .webp file for a dcgan run, got '\(output)'", code: 64)
            }
            guard run.options.model == .dcgan else {
                throw TrainingError(.notInRun, "\(model) is a \(run.options.model.rawValue) run: it translates images (gantry convert -m \(model)); sample draws from dcgan runs and runs stargan runs' test mode")
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
            let grid = try DCGANRecipe.grid(images, columns: columns, format: format)
            do { try AtomicFile.write(grid, to: URL(fileURLWithPath: output)) } catch {
                throw TrainingError(.writeFailed, "\(error)", cause: error)
            }
            print("\(n) images from \(model) (\(epoch)) → \(output)")
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("sample: \(error)")
        }
    }

    /// The StarGAN solver's test mode into the `-o` folder.
    private func test(_ run: TrainedRun) throws {
        let folder = URL(fileURLWithPath: output)
        let existing = ((try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []).filter { $0.hasSuffix("-images.png") }
        if !existing.isEmpty && !overwrite {
            throw fail("\(output) already holds \(existing.count) result file(s) (e.g. \(existing.sorted()[0])); choose another folder or give --overwrite", code: 64)
        }
        let tester = try StarGANTester(run: run, data: data, attributes: attributes, iteration: epoch)
        print("testing \(tester.checkpoint.path) on \(tester.dataset.count) images into \(tester.dataset.domains.count) domains → \(output) (\(tester.fileCount) files)")
        let progress = ProgressPrinter(total: tester.dataset.count, style: ProgressPrinter.defaultStyle, verbose: false)
        let started = Date()
        let files = try tester.run(into: folder, backend: try DNNLBackend(algorithm: .winograd)) { path in
            progress.finished(ItemResult(input: path, output: nil, status: .converted))
        }
        var summary = ConvertSummary()
        summary.converted = tester.dataset.count
        summary.seconds = Date().timeIntervalSince(started)
        progress.finish(summary, extra: ["\(files.count) result files in \(output)"])
    }
}
