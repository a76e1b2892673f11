@testable import Engine
import Testing
import TestSupport

/// `normalizeInputGradient` (the twin of `normalize`'s backward) against central differences in
/// Double of L = Σ u·F(g, x, γ), for each way of taking statistics. F is smooth in all three, so
/// differences with step 1e-3 agree to ~1e-6; the tolerance is 1e-4 relative to the gradient's
/// size. (The PyTorch check of the whole penalty is GradientPenaltyTests.)
struct NormalizationSecondOrderTests {
    static let modes: [String] = ["instance", "batch", "running"]

    /// L in Double from the plain formulas: F = γ·s·(g − mean g − x̂·mean(g x̂)) per group, or
    /// F = γ·s·g with the running statistics.
    static func loss(_ g: [Double], _ x: [Double], _ gamma: [Double], _ u: [Double], shape: (n: Int, c: Int, plane: Int),
                     mode: String, running: (mean: [Double], variance: [Double])) -> Double {
        let (n, c, plane) = shape
        var groups: [[Int]] = []
        if mode == "instance" {
            for p in 0..<(n * c) { groups.append(Array((p * plane)..<((p + 1) * plane))) }
        } else {
            for ch in 0..<c {
                var idx: [Int] = []
                for b in 0..<n { idx += Array(((b * c + ch) * plane)..<((b * c + ch + 1) * plane)) }
                groups.append(idx)
            }
        }
        var total = 0.0
        for (k, idx) in groups.enumerated() {
            let ch = mode == "instance" ? k % c : k
            let m = Double(idx.count)
            let mean = mode == "running" ? running.mean[ch] : idx.map { x[$0] }.reduce(0, +) / m
            let variance = mode == "running" ? running.variance[ch] : idx.map { (x[$0] - mean) * (x[$0] - mean) }.reduce(0, +) / m
            let s = 1 / (variance + 1e-5).squareRoot()
            if mode == "running" {
                for i in idx { total += u[i] * gamma[ch] * s * g[i] }
                continue
            }
            let xh = idx.map { (x[$0] - mean) * s }
            let gBar = idx.map { g[$0] }.reduce(0, +) / m
            let a = zip(idx, xh).map { g[$0] * $1 }.reduce(0, +) / m
            for (j, i) in idx.enumerated() { total += u[i] * gamma[ch] * s * (g[i] - gBar - xh[j] * a) }
        }
        return total
    }

    @Test(arguments: modes)
    func matchesCentralDifferences(_ mode: String) throws {
        let shape = [2, 3, 4, 5], dims = (n: 2, c: 3, plane: 20)
        let xt = randomTensor(shape, seed: 1), gt = randomTensor(shape, seed: 2), ut = randomTensor(shape, seed: 3)
        let gammaT = try Tensor(shape: [3], values: [0.7, 1.3, -0.4])
        let runningMean: [Float] = [0.1, -0.2, 0.05], runningVar: [Float] = [0.8, 1.5, 0.3]
        let statistics: NormStatistics = switch mode {
        case "instance": .perInstance
        case "batch": .perBatch
        default: .running(mean: try Tensor(shape: [3], values: runningMean), variance: try Tensor(shape: [3], values: runningVar))
        }
        let forward = try normalize(xt, statistics: statistics, weight: gammaT, bias: nil)
        let g = Variable(gt, requiresGrad: true), x = Variable(xt, requiresGrad: true), gamma = Variable(gammaT, requiresGrad: true)
        let f = try normalizeInputGradient(g, input: x, statistics: statistics, mean: forward.mean, invStd: forward.invStd, weight: gamma)
        try f.backward(ut)

        let d = { (t: Tensor) in t.values.map(Double.init) }
        let running = (mean: runningMean.map(Double.init), variance: runningVar.map(Double.init))
        let base = (g: d(gt), x: d(xt), gamma: d(gammaT), u: d(ut))
        func numeric(_ which: String, _ i: Int) -> Double {
            let h = 1e-3
            var plus = base, minus = base
            switch which {
            case "g": plus.g[i] += h; minus.g[i] -= h
            case "x": plus.x[i] += h; minus.x[i] -= h
            default: plus.gamma[i] += h; minus.gamma[i] -= h
            }
            let lp = Self.loss(plus.g, plus.x, plus.gamma, base.u, shape: dims, mode: mode, running: running)
            let lm = Self.loss(minus.g, minus.x, minus.gamma, base.u, shape: dims, mode: mode, running: running)
            return (lp - lm) / (2 * h)
        }
        for (name, variable, count) in [("g", g, 120), ("x", x, 120), ("gamma", gamma, 3)] {
            let ours = (variable.grad?.values ?? Array(repeating: 0, count: count)).map(Double.init)
            let truth = (0..<count).map { numeric(name, $0) }
            let scale = max(1e-3, truth.map(abs).max()!)
            let worst = zip(ours, truth).map { abs($0 - $1) }.max()!
            print("\(mode) d/d\(name): worst |Δ| \(worst) of scale \(scale)")
            #expect(worst <= 1e-4 * scale + 1e-6, "\(mode) d/d\(name)")
        }
        // The x term is really there where the statistics come from the batch.
        #expect((x.grad.map { $0.values.map(abs).max()! } ?? 0) > (mode == "running" ? -1 : 1e-3))
    }
}
