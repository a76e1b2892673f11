import ArgumentParser
import Engine
import Foundation
import Models

/// `gantry bench`: forward-pass timings of full-size generators with random weights, optionally
/// side by side with the other CPU engines (PyTorch, ONNX Runtime, OpenVINO, ncnn) in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time generator forward passes (random weights), optionally against other CPU engines.",
        discussion: "Warm-up runs first, then the median of --runs timed runs. With --peer PYTHON, runs benchmarks/peer_engines.py with that interpreter (a virtualenv with torch, onnx, onnxruntime, openvino, ncnn, pnnx) on the same networks, sizes and threads, each engine in its own process, case by case after Gantry's, and prints the ratios. Under GANTRY_MAX_CPU_ISA=avx2 the peers are capped too where they allow it."
    )

    @Option(help: "Comma-separated networks: resnet_9blocks, resnet_6blocks, unet_256, unet_128.")
    var nets = "resnet_9blocks,unet_256"

    @Option(help: "Comma-separated WIDTHxHEIGHT sizes.")
    var sizes = "256x256,1024x768"

    @Option(help: "Timed runs per case (the median is reported).")
    var runs = 5

    @Option(help: "Untimed warm-up runs per case.")
    var warmup = 1

    @OptionGroup var engine: EngineOptions

    @Option(help: "Python interpreter to run the peer engines (benchmarks/peer_engines.py) beside Gantry.")
    var peer: String?

    @Option(help: "Comma-separated peer engines: torch, onnxruntime, openvino, ncnn.")
    var peerEngines = "torch,onnxruntime,openvino,ncnn"

    @Option(help: "Path of the peer script.")
    var peerScript = "benchmarks/peer_engines.py"

    @Option(help: "inference (the pass convert runs) or autograd (the same layers' forward as training runs it, gradients off): what conversion's in-place reuse of intermediates saves.")
    var path: ForwardPath = .inference

    enum ForwardPath: String, ExpressibleByArgument, CaseIterable { case inference, autograd }

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

    @Flag(name: .customLong("in-process"), help: "Run every case in this process (default: one child process per case, so peak memory is per case).")
    var inProcess = false

    func run() throws {
        let threadCount = engine.threads ?? ProcessInfo.processInfo.activeProcessorCount
        var rows: [(gantry: BenchResult, peers: [BenchResult])] = []
        if !json {
            // Results differ by ISA (oneDNN has Winograd only on AVX-512): say which one ran.
            let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
                .split(separator: "\n").first { $0.hasPrefix("model name") }?
                .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
            print("CPU: \(cpu); oneDNN ISA: \(DNNLBackend.effectiveISA); threads: \(threadCount)")
        }
        for (name, arch) in try parsedNets() {
            for size in try parsedSizes() {
                // Gantry then its peer, case by case, so a noisy minute hits both sides alike.
                let mine = inProcess ? try measure(name, arch, size, threads: threadCount)
                                     : try runChild(name, size, threads: threadCount)
                let theirs = try peer.map { try runPeers(python: $0, net: name, size: size, threads: threadCount) } ?? []
                rows.append((mine, theirs))
                if !json {
                    print(mine.line)
                    for p in theirs { print(p.line) }
                    if let summary = Self.summary(mine, theirs) { print(summary) }
                }
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for r in rows.flatMap({ [$0.gantry] + $0.peers }) {
                print(String(decoding: try encoder.encode(r), as: UTF8.self))
            }
        }
    }

    private func measure(_ name: String, _ arch: GeneratorArchitecture, _ size: (width: Int, height: Int),
                         threads: Int) throws -> BenchResult {
        let generator = try Generator(arch)
        try generator.initializeRandomly(seed: 1)
        let counter = CountingBackend(try engine.backend(threads: threads))
        let context = ForwardContext(backend: counter)
        let x = try Tensor(shape: [1, arch.inputChannels, size.height, size.width], repeating: 0.1)
        let forward: () throws -> Void
        switch path {
        case .inference: forward = { _ = try generator.forward(x, context: context) }
        case .autograd:
            // Per-image statistics as in inference; no gradients, so no tape is kept, but a
            // training pass reuses no intermediate.
            generator.root.setRequiresGrad(false)
            let training = TrainingContext(backend: counter, updatesRunningStatistics: false)
            forward = { _ = try generator.forward(Variable(x), context: training) }
        }
        for _ in 0..<warmup { try forward() }
        counter.flops = 0
        var times: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try forward()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return BenchResult(engine: "gantry", net: name, width: size.width, height: size.height, threads: threads,
                           runs: runs, times: times, gflop: Double(counter.flops) / Double(runs) / 1e9,
                           peakRSSMB: peakRSSMegabytes(),
                           detail: "\(counter.wrapped.name)\(path == .autograd ? " through autograd" : ""), peak tensors \(BufferPool.shared.peakLiveBytes >> 20) MB, mapped \(BufferPool.shared.mappedBytes >> 20) MB")
    }

    private func runChild(_ name: String, _ size: (width: Int, height: Int), threads: Int) throws -> BenchResult {
        let output = try capture(Bundle.main.executablePath ?? CommandLine.arguments[0], [
            "bench", "--in-process", "--json", "--nets", name, "--sizes", "\(size.width)x\(size.height)",
            "--runs", String(runs), "--warmup", String(warmup), "--threads", String(threads),
            "--algorithm", (engine.algorithm ?? .winograd).rawValue, "--winograd", engine.winograd.rawValue,
            "--transposed", engine.transposed.rawValue, "--strided", engine.strided.rawValue, "--path", path.rawValue,
        ])
        guard let line = output.split(separator: "\n").first,
              let result = try? JSONDecoder().decode(BenchResult.self, from: Data(line.utf8)) else {
            throw fail("benchmark child printed no result")
        }
        return result
    }

    /// Every peer engine on one case, each in its own process (the script isolates them).
    private func runPeers(python: String, net: String, size: (width: Int, height: Int), threads: Int) throws -> [BenchResult] {
        var arguments = [peerScript, "--threads", String(threads), "--runs", String(runs), "--warmup", String(warmup),
                         "--sizes", "\(size.width)x\(size.height)", "--nets", net, "--engines", peerEngines, "--json"]
        // The same ISA for everyone: on an AVX-512 machine capped to AVX2, cap the peers too.
        if DNNLBackend.effectiveISA == "avx2" { arguments += ["--max-isa", "avx2"] }
        let output = try capture(python, arguments, partial: true)
        return output.split(separator: "\n").compactMap { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let engine = obj["engine"] as? String, let median = obj["median_s"] as? Double else { return nil }
            let minimum = obj["min_s"] as? Double ?? median
            var detail = "\(engine) \(obj["engine_version"] as? String ?? "?") fp32"
            if let diff = obj["max_abs_diff_vs_torch"] as? Double { detail += String(format: ", max diff vs torch %.1e", diff) }
            if obj["mismatch"] as? Bool == true { detail += ", OUTPUT MISMATCH" }
            if let capped = obj["isa_cap_honoured"] as? Bool { detail += ", AVX2 cap honoured: \(capped ? "yes" : "no")" }
            if let capped = obj["isa_cap_honoured"] as? String { detail += ", AVX2 cap honoured: \(capped)" }
            return BenchResult(engine: engine, net: net, width: size.width, height: size.height, threads: threads,
                               runs: runs, times: [minimum, median, median], gflop: obj["gflop"] as? Double ?? 0,
                               peakRSSMB: obj["peak_rss_mb"] as? Double ?? 0, detail: detail)
        }
    }

    /// "→ resnet_9blocks 256x256: 1.62× the fastest peer (ncnn), 3.10× PyTorch; peak RSS …".
    static func summary(_ mine: BenchResult, _ peers: [BenchResult]) -> String? {
        guard let fastest = peers.min(by: { $0.median < $1.median }),
              let leanest = peers.min(by: { $0.peakRSSMB < $1.peakRSSMB }) else { return nil }
        var text = String(format: "  → %@ %dx%d: %.2f× the fastest peer's throughput (%@)", mine.net, mine.width, mine.height,
                          fastest.median / mine.median, fastest.engine)
        if let torch = peers.first(where: { $0.engine == "torch" }) {
            text += String(format: ", %.2f× PyTorch's", torch.median / mine.median)
        }
        text += String(format: "; peak RSS %.0f MB vs the lowest peer's %.0f MB (%@)", mine.peakRSSMB, leanest.peakRSSMB, leanest.engine)
        return text
    }

    /// The command's standard output; a non-zero exit throws unless `partial`, when what it
    /// printed before failing is still returned (a peer engine that fails must not hide the rest).
    private func capture(_ executable: String, _ arguments: [String], partial: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 || partial else {
            throw fail("\(executable) \(arguments.first ?? "") exited with status \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// One benchmark case's timings.
struct BenchResult: Codable {
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

    init(engine: String, net: String, width: Int, height: Int, threads: Int, runs: Int, times: [Double],
         gflop: Double, peakRSSMB: Double, detail: String) {
        (self.engine, self.net, self.width, self.height, self.threads, self.runs) = (engine, net, width, height, threads, runs)
        (self.times, self.gflop, self.peakRSSMB, self.detail) = (times, gflop, peakRSSMB, detail)
    }

    /// Reads what `encode` wrote (the child process's line); keeps min and median as the times.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let median = try c.decode(Double.self, forKey: .medianS), minimum = try c.decode(Double.self, forKey: .minS)
        self.init(engine: try c.decode(String.self, forKey: .engine), net: try c.decode(String.self, forKey: .net),
                  width: try c.decode(Int.self, forKey: .width), height: try c.decode(Int.self, forKey: .height),
                  threads: try c.decode(Int.self, forKey: .threads), runs: try c.decode(Int.self, forKey: .runs),
                  times: [minimum, median, median], gflop: try c.decode(Double.self, forKey: .gflop),
                  peakRSSMB: try c.decode(Double.self, forKey: .peakRSSMB), detail: try c.decode(String.self, forKey: .detail))
    }

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

    // Each backward pass costs as many multiply-adds as its forward.
    func convolutionBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], geometry: ConvGeometry,
                                 transposed: Bool) throws -> Tensor {
        let spatial = transposed ? inputShape[0] * inputShape[2] * inputShape[3] : gradOutput.shape[0] * gradOutput.shape[2] * gradOutput.shape[3]
        flops += 2 * weight.count * spatial
        return try wrapped.convolutionBackwardData(gradOutput, weight: weight, inputShape: inputShape, geometry: geometry,
                                                   transposed: transposed)
    }

    func convolutionBackwardWeights(_ x: Tensor, gradOutput: Tensor, weightShape: [Int], bias: Bool, geometry: ConvGeometry,
                                    transposed: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        let spatial = transposed ? x.shape[0] * x.shape[2] * x.shape[3] : gradOutput.shape[0] * gradOutput.shape[2] * gradOutput.shape[3]
        flops += 2 * weightShape.reduce(1, *) * spatial
        return try wrapped.convolutionBackwardWeights(x, gradOutput: gradOutput, weightShape: weightShape, bias: bias,
                                                      geometry: geometry, transposed: transposed)
    }
}

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
