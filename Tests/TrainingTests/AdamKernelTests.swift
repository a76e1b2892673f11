import Engine
import Testing
import TestSupport
@testable import Training

/// Adam's and RMSprop's FMA/AVX2 kernels (CKernels, chosen by CPUID) against their Swift loops,
/// which `OptimizerTests` holds to torch: bit for bit, over both of ATen's lerp formulas, with and
/// without weight decay, on sizes that leave vector tails and span several chunks.
struct AdamKernelTests {
    @Test(arguments: [(0.5, 0.0), (0.9, 0.0), (0.5, 0.01), (0.9, 0.05)])
    func kernelIsTheSwiftLoopBitForBit(beta1: Double, weightDecay: Double) throws {
        guard Adam.kernelAvailable else {
            print("SKIPPED Adam's FMA kernel: this CPU has no FMA/AVX2 (the Swift loop runs, and OptimizerTests check it)")
            return
        }
        for (k, n) in [1, 7, 8, 9, 31, 65_536 * 2 + 13].enumerated() {
            let seed = UInt64(100 * k)
            let a = Variable(randomTensor([n], seed: seed), requiresGrad: true)
            let b = Variable(randomTensor([n], seed: seed), requiresGrad: true)
            let kernel = try Adam(parameters: [("w", a)], lr: 2e-3, betas: (beta1, 0.999), weightDecay: weightDecay)
            let loop = try Adam(parameters: [("w", b)], lr: 2e-3, betas: (beta1, 0.999), weightDecay: weightDecay)
            loop.useKernel = false
            #expect(kernel.useKernel)
            for step in 0..<6 {
                let g = randomTensor([n], seed: seed + 1 + UInt64(step))
                a.grad = g
                b.grad = try Tensor(shape: [n], values: g.values)
                try kernel.step()
                try loop.step()
            }
            let sa = try #require(kernel.state(of: "w")), sb = try #require(loop.state(of: "w"))
            #expect(bits(a.data.values) == bits(b.data.values), "n \(n): parameters")
            #expect(bits(sa.expAvg) == bits(sb.expAvg), "n \(n): exp_avg")
            #expect(bits(sa.expAvgSq) == bits(sb.expAvgSq), "n \(n): exp_avg_sq")
        }
    }

    /// RMSprop (WGAN's optimizer) the same way.
    @Test(arguments: [0.0, 0.01])
    func rmspropKernelIsTheSwiftLoopBitForBit(weightDecay: Double) throws {
        guard Adam.kernelAvailable else {
            print("SKIPPED RMSprop's FMA kernel: this CPU has no FMA/AVX2 (the Swift loop runs)")
            return
        }
        for (k, n) in [1, 9, 17, 65_536 * 2 + 5].enumerated() {
            let seed = UInt64(300 + 10 * k)
            let a = Variable(randomTensor([n], seed: seed), requiresGrad: true)
            let b = Variable(randomTensor([n], seed: seed), requiresGrad: true)
            let kernel = try RMSprop(parameters: [("w", a)], lr: 5e-5, weightDecay: weightDecay)
            let loop = try RMSprop(parameters: [("w", b)], lr: 5e-5, weightDecay: weightDecay)
            loop.useKernel = false
            #expect(kernel.useKernel)
            for step in 0..<5 {
                let g = randomTensor([n], seed: seed + 1 + UInt64(step))
                a.grad = g
                b.grad = try Tensor(shape: [n], values: g.values)
                try kernel.step()
                try loop.step()
            }
            #expect(bits(a.data.values) == bits(b.data.values), "n \(n): parameters")
            #expect(bits(kernel.state(at: 0)!.buffers[0]) == bits(loop.state(at: 0)!.buffers[0]), "n \(n): square_avg")
        }
    }

    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
}
