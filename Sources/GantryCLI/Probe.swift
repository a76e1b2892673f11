import AtomicFiles
import ArgumentParser
import Checkpoints
import Foundation
import Imaging
import Models

/// `gantry probe` (hidden): reads files the way `convert` and `inspect` do and reports each
/// outcome on its own line, flushed before the next file is read. The mutation tests run it in a
/// child process, so a crash fails one test and names its input instead of killing the runner;
/// it also replays fuzzer findings (`gantry probe --kind image crash-…`).
struct Probe: ParsableCommand {
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        /// ImageCodec.decode with a 4-megapixel limit.
        case image
        /// Checkpoint.load, then Generator.load.
        case model
    }

    static let configuration = CommandConfiguration(
        abstract: "Read each file as an image or a model and print one result line per file (for tests).",
        shouldDisplay: false)

    @Option(help: "image or model.") var kind: Kind
    @Option(help: "A file listing one input path per line (instead of, or besides, the arguments).") var list: String?
    @Argument(help: "Files to read.") var files: [String] = []

    func run() throws {
        var paths = files
        if let list {
            paths += try String(contentsOfFile: list, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        // Test seam: lets the harness check that it reports a crash and resumes after it.
        let crashOn = ProcessInfo.processInfo.environment["GANTRY_TEST_PROBE_CRASH_ON"]
        for path in paths {
            // "start" first: if the process dies, the last start without a result is the culprit.
            emit("start\t\(path)")
            if let crashOn, !crashOn.isEmpty, path.contains(crashOn) { abort() }
            emit("result\t\(path)\t\(outcome(path))")
        }
    }

    private func outcome(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        switch kind {
        case .image:
            do {
                let image = try ImageCodec.decodeFile(atPath: path, limits: DecodeLimits(maxPixels: 1 << 22))
                let consistent = image.samples.count == image.width * image.height * image.channelsPerPixel
                return consistent ? "ok" : "inconsistent: \(image.samples.count) samples for \(image.width)×\(image.height)×\(image.channelsPerPixel)"
            } catch {
                return "error \(error.code.rawValue)"
            }
        case .model:
            do {
                _ = try Generator.load(Checkpoint.load(contentsOf: url))
                return "ok"
            } catch let error as CheckpointError {
                return "error \(error.code.rawValue)"
            } catch let error as ModelError {
                return "error \(error.code.rawValue)"
            } catch {
                return "unexpected error type: \(error)"
            }
        }
    }

    private func emit(_ line: String) {
        StandardStreams.output(line + "\n")  // unbuffered: survives a crash
    }
}
