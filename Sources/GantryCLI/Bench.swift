import ArgumentParser
import Engine
import Foundation
import Models

/// `gantry bench`: forward-pass timings of full-size generators with random weights, optionally
/// side by side with the PyTorch peer script in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time generator forward passes (random weights), optionally against PyTorch.",
        discussion: "Warm-up runs first, then the median of --runs timed runs. With --peer PYTHON, runs benchmarks/peer_pytorch.py with that interpreter on the same networks, sizes and threads and prints the ratio."
    )

    @Option(help: "Comma-separated networks: resnet_9blocks, resnet_6blocks, unet_256, unet_128.")
    var nets = "resnet_9blocks,unet_256"

    @Option(help: "Comma-separated WIDTHxHEIGHT sizes.")
    var sizes = "256x256,1024x768"

    @Option(help: "Timed runs per case (the median is reported).")
    var runs = 5

    @Option(help: "Untimed warm-up runs per case.")
    var warmup = 1

    @Option(help: "Threads for oneDNN and for the peer (default: one per core).")
    var threads: Int?

    @Option(help: "Convolution algorithm: winograd or direct.")
    var algorithm: DNNLBackend.Algorithm = .winograd

    @Option(help: "Python interpreter with torch to run benchmarks/peer_pytorch.py beside Gantry.")
    var peer: String?

    @Option(help: "Path of the peer script.")
    var peerScript = "benchmarks/peer_pytorch.py"

    @Flag(help: "One JSON object per case instead of a table.")
    var json = false

    func validate() throws {
        guard runs >= 1, warmup >= 0 else { throw ValidationError("--runs must be at least 1 and --warmup at least 0") }
        _ = try parsedSizes()
        _ = try parsedNets()
    }

    func parsedSizes() throws -> [(width: Int, height: Int)] {
        try sizes.split(separator: ",").map { item in
            let p = item.lowercased().split(separator: "x").compactMap { Int($0) }
            guard p.count == 2, p[0] > 0, p[1] > 0 else { throw ValidationError("bad size '\(item)': use WIDTHxHEIGHT, e.g. 1024x768") }
            return (p[0], p[1])
        }
    }

    func parsedNets() throws -> [(String, GeneratorArchitecture)] {
        let known: [String: GeneratorArchitecture] = [
            "resnet_9blocks": .resnet(blocks: 9), "resnet_6blocks": .resnet(blocks: 6),
            "unet_256": .unet(downs: 8), "unet_128": .unet(downs: 7),
        ]
        return try nets.split(separator: ",").map { name in
            guard let a = known[String(name)] else {
                throw ValidationError("unknown net '\(name)': choose from \(known.keys.sorted().joined(separator: ", "))")
            }
            return (String(name), a)
        }
    }

    func run() throws {
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        var results: [BenchResult] = []
        for (name, arch) in try parsedNets() {
            let generator = Generator(arch)
            generator.initializeRandomly(seed: 1)
            for size in try parsedSizes() {
                let counter = CountingBackend(try DNNLBackend(algorithm: algorithm, threads: threadCount))
                let context = ForwardContext(backend: counter)
                let x = Tensor(shape: [1, arch.inputChannels, size.height, size.width], repeating: 0.1)
                for _ in 0..<warmup { _ = try generator.forward(x, context: context) }
                counter.flops = 0
                var times: [Double] = []
                for _ in 0..<runs {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try generator.forward(x, context: context)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                let gflop = Double(counter.flops) / Double(runs) / 1e9
                results.append(BenchResult(engine: "gantry", net: name, width: size.width, height: size.height,
                                           threads: threadCount, runs: runs, times: times, gflop: gflop,
                                           peakRSSMB: peakRSSMegabytes(), detail: counter.wrapped.name))
                if !json { print(results.last!.line) }
            }
        }
        var peers: [BenchResult] = []
        if let peer { peers = try runPeer(python: peer, threads: threadCount) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for r in results + peers { print(String(decoding: try encoder.encode(r), as: UTF8.self)) }
            return
        }
        for p in peers { print(p.line) }
        for r in results {
            guard let p = peers.first(where: { $0.net == r.net && $0.width == r.width && $0.height == r.height }) else { continue }
            print(String(format: "%@ %dx%d: gantry %.3f s vs pytorch %.3f s → %.2f× PyTorch's throughput",
                         r.net, r.width, r.height, r.median, p.median, p.median / r.median))
        }
    }

    private func runPeer(python: String, threads: Int) throws -> [BenchResult] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [peerScript, "--threads", String(threads), "--runs", String(runs), "--warmup", String(warmup),
                             "--sizes", sizes, "--nets", nets, "--json"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw fail("peer script exited with status \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let net = obj["net"] as? String, let w = obj["width"] as? Int, let h = obj["height"] as? Int,
                  let median = obj["median_s"] as? Double else { return nil }
            let minimum = obj["min_s"] as? Double ?? median
            return BenchResult(engine: "pytorch", net: net, width: w, height: h, threads: threads, runs: runs,
                               times: [median, minimum, median], gflop: obj["gflop"] as? Double ?? 0,
                               peakRSSMB: obj["peak_rss_mb"] as? Double ?? 0,
                               detail: "torch \(obj["torch_version"] as? String ?? "?") eager fp32")
        }
    }
}

/// One benchmark case's timings.
struct BenchResult: Encodable {
    var engine: String, net: String, width: Int, height: Int, threads: Int, runs: Int
    var times: [Double]
    var gflop: Double
    var peakRSSMB: Double
    var detail: String

    var median: Double { let s = times.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
    var minimum: Double { times.min() ?? 0 }

    var line: String {
        String(format: "%-8@ %-15@ %5dx%-5d median %.3f s  min %.3f s  %.2f img/s  %.1f GFLOP  %.0f GFLOP/s  peak RSS %.0f MB  (%@)",
               engine, net, width, height, median, minimum, 1 / median, gflop, gflop / median, peakRSSMB, detail)
    }

    enum CodingKeys: String, CodingKey { case engine, net, width, height, threads, runs, gflop, detail
        case medianS = "median_s", minS = "min_s", peakRSSMB = "peak_rss_mb", imagesPerS = "images_per_s" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(engine, forKey: .engine); try c.encode(net, forKey: .net)
        try c.encode(width, forKey: .width); try c.encode(height, forKey: .height)
        try c.encode(threads, forKey: .threads); try c.encode(runs, forKey: .runs)
        try c.encode(gflop, forKey: .gflop); try c.encode(detail, forKey: .detail)
        try c.encode(median, forKey: .medianS); try c.encode(minimum, forKey: .minS)
        try c.encode(peakRSSMB, forKey: .peakRSSMB); try c.encode(1 / median, forKey: .imagesPerS)
    }
}

/// Counts convolution FLOPs (2·multiply-adds) while delegating to a real backend.
final class CountingBackend: ConvolutionBackend, @unchecked Sendable {
    let wrapped: ConvolutionBackend
    var flops = 0
    var name: String { wrapped.name }

    init(_ wrapped: ConvolutionBackend) { self.wrapped = wrapped }

    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
        let y = try wrapped.conv2d(x, weight: weight, bias: bias, geometry: geometry)
        flops += 2 * weight.count * y.shape[0] * y.shape[2] * y.shape[3]
        return y
    }

    func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
        flops += 2 * weight.count * x.shape[0] * x.shape[2] * x.shape[3]
        return try wrapped.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry)
    }
}

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
