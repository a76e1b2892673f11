import ArgumentParser
import Engine
import Foundation
import Models
import Runs
import Training

/// Times one reference training iteration on Gantry's engine; `benchmarks/train_bench.sh` runs it
/// beside PyTorch's (`benchmarks/peer_pytorch_train.py`) on the same set-up.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-train",
        abstract: "Time training iterations of the reference pix2pix or CycleGAN recipe (random data and weights).",
        discussion: "cyclegan: 2× resnet_9blocks + 2× basic D (instance norm), lsgan, identity 0.5. pix2pix: unet_256 + basic D (batch norm), vanilla, λ_L1 100. cut/fastcut: CUT's resnet_9blocks, anti-aliased basic D and PatchSampleF (256 patches, 5 layers), lsgan; CUT with the NCE identity, FastCUT with λ_NCE 10 and flips. Warm-up iterations first, then the median of --runs; prints one JSON line with the peak RSS."
    )

    @Option(help: "cyclegan, pix2pix, cut or fastcut.")
    var model: String = "cyclegan"

    @Option(help: "Image side.")
    var size = 256

    @Option(help: "Timed iterations (the median is reported).")
    var runs = 5

    @Option(help: "Untimed warm-up iterations.")
    var warmup = 1

    @OptionGroup var engine: EngineOptions

    @Flag(help: "Also print where the time goes: convolution forward, backward-data, backward-weights, the rest.")
    var profile = false

    func validate() throws {
        guard ["cyclegan", "pix2pix", "cut", "fastcut"].contains(model) else {
            throw ValidationError("--model must be cyclegan, pix2pix, cut or fastcut, got '\(model)'")
        }
        guard runs >= 1, warmup >= 0 else { throw ValidationError("--runs must be at least 1 and --warmup at least 0") }
        guard size >= 32, size % 32 == 0 else { throw ValidationError("--size must be a multiple of 32 (at least 32)") }
    }

    func run() throws {
        let dnnl = try engine.backend()
        let timing = TimingBackend(dnnl)
        let backend: ConvolutionBackend = profile ? timing : dnnl
        let context = TrainingContext(backend: backend, dropout: RandomSource(seed: 3))
        let a = try randomImage(seed: 1), b = try randomImage(seed: 2)
        let step: () throws -> Void
        if model == "cyclegan" {
            let gA = try Generator(.resnet(blocks: 9)), gB = try Generator(.resnet(blocks: 9))
            let dA = try Discriminator(.nLayers(3, ndf: 64, norm: .instance)), dB = try Discriminator(.nLayers(3, ndf: 64, norm: .instance))
            for (i, net) in [gA.root, gB.root, dA.root, dB.root].enumerated() { try net.initializeWeights(seed: UInt64(i + 1)) }
            let m = try CycleGANModel(generatorA: gA, generatorB: gB, discriminatorA: dA, discriminatorB: dB,
                                      random: RandomSource(seed: 4), context: context)
            let optG = try Adam(parameters: gA.root.parameters(prefix: "G_A.") + gB.root.parameters(prefix: "G_B."))
            let optD = try Adam(parameters: dA.root.parameters(prefix: "D_A.") + dB.root.parameters(prefix: "D_B."))
            step = { _ = try m.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD) }
        } else if model == "cut" || model == "fastcut" {
            let fast = model == "fastcut"
            let g = try Generator(.cut()), d = try Discriminator(.nLayers(3, ndf: 64, norm: .instance, antialias: true))
            let f = try PatchSampleF(channels: [3, 128, 256, 256, 256])
            for (i, net) in [g.root, d.root, f.root].enumerated() { try net.initializeWeights(.xavier, random: RandomSource(seed: UInt64(i + 1))) }
            let m = CUTModel(generator: g, discriminator: d, sampler: f, lambdaNCE: fast ? 10 : 1, nceIdentity: !fast,
                             flipEquivariance: fast, random: RandomSource(seed: 4), context: context)
            let optG = try Adam(parameters: g.root.parameters()), optD = try Adam(parameters: d.root.parameters())
            let optF = try Adam(parameters: f.root.parameters())
            step = { _ = try m.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD, optimizerF: optF) }
        } else {
            let g = try Generator(.unet(downs: 8)), d = try Discriminator(.nLayers(3, ndf: 64, norm: .batch, inputChannels: 6))
            try g.root.initializeWeights(seed: 1)
            try d.root.initializeWeights(seed: 2)
            let m = Pix2PixModel(generator: g, discriminator: d, context: context)
            let optG = try Adam(parameters: g.root.parameters()), optD = try Adam(parameters: d.root.parameters())
            step = { _ = try m.optimize(realA: a, realB: b, optimizerG: optG, optimizerD: optD) }
        }
        var times: [Double] = []
        for i in 0..<(warmup + runs) {
            if i == warmup { timing.seconds = [:] }
            let start = DispatchTime.now().uptimeNanoseconds
            try step()
            if i >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        }
        let sorted = times.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let result: [String: Any] = [
            "engine": "gantry \(dnnl.name) \(DNNLBackend.effectiveISA)", "model": model, "size": size, "runs": runs,
            "threads": engine.threads ?? Int(gantry_threads()), "median_s": median, "min_s": sorted[0],
            "peak_rss_mb": peakRSSMegabytes(),
        ]
        var output = result
        if profile {
            let perIteration = timing.seconds.mapValues { $0 / Double(runs) }
            output["profile_s"] = perIteration.merging(["other": times.reduce(0, +) / Double(runs) - perIteration.values.reduce(0, +)]) { a, _ in a }
        }
        let data = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func randomImage(seed: UInt64) throws -> Tensor {
        let random = RandomSource(seed: seed)
        let t = try Tensor(uninitialized: [1, 3, size, size])
        t.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = random.nextUnit() * 2 - 1 } }
        return t
    }
}

/// Adds up the seconds spent in each kind of convolution call of a real backend.
final class TimingBackend: ConvolutionBackend, @unchecked Sendable {
    let wrapped: ConvolutionBackend
    var seconds: [String: Double] = [:]
    var name: String { wrapped.name }

    init(_ wrapped: ConvolutionBackend) { self.wrapped = wrapped }

    private func timed<T>(_ key: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds[key, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }

    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
        try timed("conv_forward") { try wrapped.conv2d(x, weight: weight, bias: bias, geometry: geometry) }
    }

    func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
        try timed("conv_forward") { try wrapped.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry) }
    }

    func convolutionBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], geometry: ConvGeometry,
                                 transposed: Bool) throws -> Tensor {
        try timed("conv_backward_data") {
            try wrapped.convolutionBackwardData(gradOutput, weight: weight, inputShape: inputShape, geometry: geometry, transposed: transposed)
        }
    }

    func convolutionBackwardWeights(_ x: Tensor, gradOutput: Tensor, weightShape: [Int], bias: Bool, geometry: ConvGeometry,
                                    transposed: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        try timed("conv_backward_weights") {
            try wrapped.convolutionBackwardWeights(x, gradOutput: gradOutput, weightShape: weightShape, bias: bias,
                                                   geometry: geometry, transposed: transposed)
        }
    }
}

private func gantry_threads() -> Int32 { Int32(ProcessInfo.processInfo.activeProcessorCount) }
