import Engine
import Foundation
import Models
import Testing
import TestSupport

/// Streamed inference (`StreamedForward`) against the whole-image forward: every generator family
/// and normalisation, with bands of one or two rows (so every halo, padding and stride case at
/// band edges is crossed many times) or a few and with every activation in scratch files or all in memory.
/// The two differ by rounding only: a max difference ≤ 2e-5 on tanh outputs in [−1, 1], against
/// 2/255 = 7.8e-3 for one output level.
struct StreamedForwardTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var architecture: GeneratorArchitecture
        var size: (h: Int, w: Int)
        var condition: [Float]?
        var runningStatistics = false
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "resnet instance", architecture: .resnet(blocks: 2, ngf: 4, norm: .instance), size: (37, 45)),
        Case(name: "resnet batch", architecture: .resnet(blocks: 2, ngf: 4, norm: .batch), size: (29, 33)),
        Case(name: "resnet batch eval", architecture: .resnet(blocks: 1, ngf: 4, norm: .batch), size: (29, 33), runningStatistics: true),
        Case(name: "resnet none", architecture: .resnet(blocks: 1, ngf: 4, norm: .none), size: (21, 26)),
        // CUT's anti-aliased layouts: blur down-sampling on odd sides, blur up-sampling.
        Case(name: "cut", architecture: .cut(blocks: 1, ngf: 4), size: (37, 45)),
        Case(name: "cut no_antialias_up", architecture: .cut(blocks: 1, ngf: 4, antialiasUp: false), size: (30, 27)),
        Case(name: "cut no_antialias", architecture: .cut(blocks: 1, ngf: 4, antialias: false), size: (28, 33)),
        Case(name: "unet batch", architecture: .unet(downs: 5, ngf: 4, norm: .batch, dropout: true), size: (64, 96)),
        Case(name: "unet instance", architecture: .unet(downs: 6, ngf: 4, norm: .instance, dropout: false), size: (64, 128)),
        Case(name: "stargan", architecture: .stargan(conditions: 3, convDim: 4, repeats: 2), size: (36, 44), condition: [1, 0, 1]),
    ]

    static func generator(_ c: Case) throws -> Generator {
        let g = try Generator(c.architecture)
        try g.initializeRandomly(seed: 3, gain: 0.3)
        // Running statistics that differ from any image's, so eval mode is really checked.
        for m in g.root.modules(of: Norm2d.self) {
            for (name, t, _, _) in m.namedTensors() where name.hasSuffix("running_mean") || name.hasSuffix("running_var") {
                t.withUnsafeMutableBufferPointer { p in
                    for i in p.indices { p[i] = name.hasSuffix("mean") ? 0.05 * Float(i % 3) : 1.5 + 0.1 * Float(i % 2) }
                }
            }
        }
        return g
    }

    /// Band budgets: 1 byte gives one output row per band (two for transposed convolutions),
    /// 6000 a few rows; memory limit 0 sends every activation to a scratch file.
    @Test(arguments: cases, [(1, 0), (6000, 0), (1, 1 << 40)])
    func matchesTheWholeImage(_ c: Case, limits: (bandBytes: Int, memoryLimit: Int)) throws {
        let memoryLimit = limits.memoryLimit
        let g = try Self.generator(c)
        let image = randomTensor([1, c.architecture.inputChannels, c.size.h, c.size.w], seed: 9)
        let condition = try c.condition.map { try Tensor(shape: [1, $0.count], values: $0) }
        let context = ForwardContext(backend: Backends.direct, batchNorm: c.runningStatistics ? .runningStatistics : .batchStatistics)
        let whole = try g.forward(image, condition: condition, context: context)
        let scratch = ScratchSpace(memoryLimit: memoryLimit)
        let streamed = try StreamedForward(context: context, scratch: scratch, bandBytes: limits.bandBytes)(
            g, image, condition: condition)
        #expect(streamed.shape == whole.shape)
        let diff = streamed.maxAbsDifference(whole)
        print("\(c.name), band \(limits.bandBytes) B, memory limit \(memoryLimit): max |streamed − whole| = \(diff), scratch file peak \(scratch.peakFileBytes) B")
        #expect(diff <= 2e-5, "\(c.name)")
        #expect((scratch.peakFileBytes > 0) == (memoryLimit == 0))
        // The spread of outputs is real: a broken normalisation would not hide in a flat image.
        let values = whole.values
        #expect((values.max()! - values.min()!) > 0.1, "\(c.name): outputs span \(values.min()!)…\(values.max()!)")
    }

    /// Stochastic dropout is refused by name rather than streamed in a different order.
    @Test func stochasticDropoutIsRefused() throws {
        let g = try Generator(.unet(downs: 5, ngf: 4, norm: .batch, dropout: true))
        let context = ForwardContext(backend: Backends.direct, dropout: RandomSource(seed: 1))
        #expect { _ = try StreamedForward(context: context, scratch: ScratchSpace(memoryLimit: 0), bandBytes: 1 << 20)(
            g, randomTensor([1, 3, 64, 64], seed: 1)) } throws: { "\($0)".contains("dropout") }
    }
}
