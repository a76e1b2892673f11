import AtomicFiles
import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Runs

/// yunjey/stargan's `main.py --mode test` on a Gantry run: the test images — CelebA's 1,999
/// held-out lines, or every image of the data for folders (the solver tests RaFD on a folder of
/// its own) and CSV tables — each translated into every target the solver's `create_labels`
/// makes, a batch of rows per file as `{i+1}-images.png`: the real image, then one column per
/// target, no gaps, rounded as `save_image` rounds. G normalises each image by its own
/// statistics, as the solver (which never calls `eval()`) does.
public struct StarGANTester {
    public let dataset: StarGANDataset
    public let generator: Generator
    /// Rows per result file: the run's batch size, as the solver's test loader batches.
    public let rowsPerFile: Int
    /// The checkpoint the generator came from.
    public let checkpoint: URL

    /// - Parameters:
    ///   - data, attributes: where the test images are, if not where the run's `config.yaml` says.
    ///   - iteration: `latest`, or an iteration whose `models/<N>-G.ckpt` the run saved.
    public init(run: TrainedRun, data: String? = nil, attributes: String? = nil, iteration: String = "latest") throws {
        let o = run.options
        guard o.model == .stargan else {
            throw TrainingError(.notInRun, "\(run.folder.url.path) is a \(o.model.rawValue) run; the StarGAN test mode needs a stargan run")
        }
        let table = attributes ?? (o.attributes.isEmpty ? nil : o.attributes)
        dataset = try StarGANDataset(folder: data ?? o.data, attributeTable: table, selected: o.selectedAttrs, cropSize: o.cropSize,
                                     imageSize: o.imageSize, flip: false, holdOut: o.holdOut, split: .test)
        guard dataset.domains == o.domains else {
            throw TrainingError(.invalidSetting, "the test data's domains (\(dataset.domains.joined(separator: ", "))) are not the run's (\(o.domains.joined(separator: ", ")))")
        }
        if iteration == "latest" {
            checkpoint = run.folder.networkURL(epoch: "latest", name: "G")
        } else {
            guard let n = Int(iteration), n > 0 else {
                throw TrainingError(.invalidSetting, "the iteration must be 'latest' or a saved iteration number, got '\(iteration)'")
            }
            checkpoint = run.folder.url.appendingPathComponent("models/\(n)-G.ckpt")
        }
        guard FileManager.default.fileExists(atPath: checkpoint.path) else {
            throw TrainingError(.notInRun, "\(checkpoint.path) does not exist (the run has not saved G there)")
        }
        generator = try Generator(try run.generatorArchitecture("G"))
        _ = try generator.root.loadStrictly(try Checkpoint.load(contentsOf: checkpoint).stateDict, network: "G")
        rowsPerFile = max(1, o.batchSize)
    }

    /// How many result files `run` writes.
    public var fileCount: Int { (dataset.count + rowsPerFile - 1) / rowsPerFile }

    /// Writes the result files into `folder` (created if needed), each renamed into place whole;
    /// `translated` hears of each test image (its path) when done. Returns the files written.
    @discardableResult
    public func run(into folder: URL, backend: ConvolutionBackend, translated: ((String) -> Void)? = nil) throws -> [URL] {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw TrainingError(.writeFailed, "\(folder.path): \(error.localizedDescription)")
        }
        let context = ForwardContext(backend: backend)
        let unused = RandomSource(seed: 0)  // no flip in the test transform: nothing is drawn
        var written: [URL] = []
        for file in 0..<fileCount {
            var rows: [[Tensor]] = []
            for index in (file * rowsPerFile)..<min(dataset.count, (file + 1) * rowsPerFile) {
                let (image, labels) = try dataset.item(index, random: unused)
                var row = [image]
                for k in dataset.domains.indices {
                    let target = StarGANRecipe.targetLabels(labels, domain: k, names: dataset.domains, kind: dataset.kind)
                    let condition = try Tensor(shape: [1, target.count], values: target)
                    row.append(try generator.forward(image, condition: condition, context: context))
                }
                rows.append(row)
                translated?(dataset.files[index])
            }
            let url = folder.appendingPathComponent("\(file + 1)-images.png")
            let png = try SampleGrid.png(rows, gap: 0, quantization: .round)
            do { try AtomicFile.write(png, to: url) } catch {
                throw TrainingError(.writeFailed, "\(error)", cause: error)
            }
            written.append(url)
        }
        return written
    }
}
