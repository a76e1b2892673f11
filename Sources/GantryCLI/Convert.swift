import ArgumentParser
import AtomicFiles
import Checkpoints
import Engine
import Foundation
import Imaging
import Models
import Pipeline

/// `gantry convert IN -m CKPT -o OUT`: every image under IN translated into OUT.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a folder (or one file) of photos with a generator, at their own resolution.",
        discussion: """
            Mirrors IN's folder tree under OUT as <stem><suffix>.<ext>. Outputs appear only when complete, \
            existing outputs are never replaced without --overwrite, and a bad input is reported and skipped \
            without stopping the batch. A full disk or an I/O error on the output side stops the run \
            instead (no partial file; --skip-existing finishes the rest). Exit status: 0 all converted \
            (or skipped), 1 some inputs failed, 64 usage error, 75 stopped by a full disk, I/O error or \
            unwritable output folder, 130 interrupted.
            """
    )

    /// Stopped by a transient fault on the output side (EX_TEMPFAIL): try again later.
    static let faultExitCode: Int32 = 75

    @Argument(help: "Input folder (searched recursively) or image file.") var input: String
    @OptionGroup var conversion: ConversionOptions
    @Option(name: [.short, .customLong("output")], help: "Output folder (or file name for a single input).") var output: String
    @Option(help: "Run up to N same-size images through the network together (default 1).") var batch: Int?
    @Flag(help: "Replace existing outputs.") var overwrite = false
    @Flag(name: .customLong("skip-existing"), help: "Keep existing outputs and skip their inputs (resume).") var skipExisting = false
    @Flag(name: .customLong("dry-run"), help: "List what would be done; write nothing.") var dryRun = false
    @Option(help: "Process only shard I of N (0-based), chosen by relative path: N machines split a folder.") var shard: String?
    @Option(help: "Write one JSON line per input (status, output, timings, error) to this file.") var report: String?
    @Flag(name: .shortAndLong, help: "Print nothing but errors that stop the run.") var quiet = false
    @Flag(name: .shortAndLong, help: "Print a line per file.") var verbose = false
    func validate() throws {
        if overwrite && skipExisting { throw ValidationError("--overwrite and --skip-existing contradict each other") }
        if quiet && verbose { throw ValidationError("--quiet and --verbose contradict each other") }
        if let shard, Shard(shard) == nil { throw ValidationError("--shard must be I/N with 0 ≤ I < N, e.g. 0/4") }
        if let batch, !ConversionLimits.batch.contains(batch) { throw ValidationError("--batch must be from \(ConversionLimits.batch.lowerBound) to \(ConversionLimits.batch.upperBound), got \(batch)") }
    }

    func run() throws {
        let definition = try conversion.definition()
        let source = try conversion.source(definition)
        let generator = try conversion.loadGenerator(source)
        var flags = try conversion.flags()
        (flags.batch, flags.overwrite, flags.skipExisting, flags.shard) = (batch, overwrite, skipExisting, shard.flatMap(Shard.init))
        let config = try conversion.plan(definition, flags: flags, for: generator)

        let inputURL = URL(fileURLWithPath: input), outputURL = URL(fileURLWithPath: output)
        let discovery: Discovery
        do {
            discovery = try Discovery.discover(input: inputURL, output: outputURL, plan: config)
        } catch let e as PipelineError where e.code == .unsupportedFormat {
            throw fail(e.message)
        } catch { throw fail("\(error)", code: 64) }
        for p in discovery.problems where !quiet { warn("skipped \(p.path): \(p.reason)") }
        for r in discovery.renamed where !quiet { warn("\(r.input) -> \(r.output) (another input already maps to the plain name)") }

        if dryRun {
            let pre = Preprocessor(policy: config.preprocess, maxSide: config.maxSide, architecture: generator.architecture,
                                   limits: config.decodeLimits)
            print("model: \(source.summary == source.url.path ? "\(source.url.path) (\(generator.architecture.name))" : source.summary); preprocess: \(config.preprocess); format: \(config.format.rawValue)")
            for item in discovery.items {
                let exists = FileManager.default.fileExists(atPath: item.output.path)
                let action = exists ? (config.overwrite ? "replace" : (config.skipExisting ? "skip (exists)" : "fail (exists)")) : "convert"
                var size = ""
                if let data = try? Data(contentsOf: item.input, options: .mappedIfSafe),
                   let h = try? ImageCodec.readHeader(data, path: item.input.path),
                   let planned = try? pre.plannedSize(width: h.orientation >= 5 ? h.height : h.width,
                                                      height: h.orientation >= 5 ? h.width : h.height) {
                    size = " [\(planned.output.w)×\(planned.output.h)]"
                }
                print("\(action): \(item.relativePath) -> \(item.output.path)\(size)")
            }
            print("\(discovery.items.count) to consider, \(discovery.nonImages.count) non-image files skipped"
                  + (discovery.unsupportedSummary.map { "; " + $0 } ?? ""))
            return
        }

        try? FileManager.default.createDirectory(at: outputURL.hasDirectoryPath || discovery.items.count != 1
                                                 ? outputURL : outputURL.deletingLastPathComponent(),
                                                 withIntermediateDirectories: true)
        AtomicWriter.removeStaleTemporaries(under: outputURL)
        if let report {
            // Checked before any work: the report itself appears whole, at the end.
            var isDirectory: ObjCBool = false
            let folder = URL(fileURLWithPath: report).deletingLastPathComponent().path
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue,
                  FileManager.default.isWritableFile(atPath: folder) else {
                throw fail("\(report): cannot create the report file (its folder is missing or not writable)", code: 64)
            }
        }
        let printer = ProgressPrinter(total: discovery.items.count, style: quiet ? .quiet : ProgressPrinter.defaultStyle,
                                      verbose: verbose, keepsReport: report != nil)
        for name in discovery.nonImages {
            printer.record(ItemResult(input: inputURL.appendingPathComponent(name).path, output: nil, status: .skipped,
                                      error: "not an image (by extension)"))
        }
        for (name, format) in discovery.unsupported {
            printer.record(ItemResult(input: inputURL.appendingPathComponent(name).path, output: nil, status: .skipped,
                                      error: "\(format) is not a format Gantry reads (it reads \(ImageFormat.supportedList))"))
        }
        let job = ConvertJob(generator: generator, configuration: config, observer: printer)
        let signals = SignalWatcher { job.cancel() }
        let summary = try job.run(discovery.items)
        withExtendedLifetime(signals) {}
        var extra: [String] = []
        if let line = discovery.unsupportedSummary { extra.append(line) }
        if !discovery.nonImages.isEmpty { extra.append("\(discovery.nonImages.count) non-image files ignored") }
        if !discovery.problems.isEmpty { extra.append("\(discovery.problems.count) paths could not be read") }
        printer.finish(summary, extra: extra)
        var reportProblem: String?
        if let report {
            do { try AtomicWriter.write(printer.report, to: URL(fileURLWithPath: report), mode: .replace) } catch {
                reportProblem = "\(error)"
            }
        }
        if let fault = summary.fault {
            // Not the inputs' fault: nothing is marked failed, and the same command finishes the rest.
            StandardStreams.error("gantry: stopped: \(fault.folder ?? outputURL.path): \(fault.reason); \(summary.notDone) not done. Once that is fixed (\(fault.remedy)), run the same command with --skip-existing to finish them\n")
            if let reportProblem { StandardStreams.error("gantry: the report was not written: \(reportProblem)\n") }
            throw ExitCode(Self.faultExitCode)
        }
        if let reportProblem { throw fail(reportProblem) }
        if summary.interrupted { throw ExitCode(130) }
        if summary.failed > 0 || !discovery.problems.isEmpty { throw ExitCode(1) }
    }

}

extension OutputFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

