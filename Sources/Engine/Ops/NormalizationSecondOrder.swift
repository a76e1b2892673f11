/// The twin of `normalize`'s backward: its input gradient as a differentiable op, so WGAN-GP's
/// penalty reaches the weights of critics with batch or instance normalisation (pix2pix's and
/// CycleGAN's defaults).
///
/// Per statistics group of M values, with s = (var + ε)^(-1/2), x̂ = (x − μ)·s and the
/// projection P(g) = g − mean(g) − x̂·mean(g·x̂), the input gradient is F = γ·s·P(g). For an
/// outer gradient u of F, writing ḡ, ū for the means, a = mean(g·x̂), b = mean(u·x̂) and
/// C = mean(u·g) − ū·ḡ:
///
/// - d/dg: γ·s·P(u) — P is symmetric, so this is `normalizeBackward` applied to u;
/// - d/dγ: Σ over the channel's groups of M·s·(C − a·b);
/// - d/dx: γ·s²·((3ab − C)·x̂ − b·(g − ḡ) − a·(u − ū)), from ∂s/∂xⱼ = −s²·x̂ⱼ/M and
///   ∂x̂ᵢ/∂xⱼ = s·(δᵢⱼ − 1/M − x̂ᵢ·x̂ⱼ/M).
///
/// With running statistics F = γ·s·g does not depend on x, and the x term is absent.
/// Checked against `torch.autograd.grad(..., create_graph=True)` by GradientPenaltyTests.
func normalizeInputGradient(_ g: Variable, input x: Variable, statistics: NormStatistics, mean: [Float], invStd: [Float],
                            weight: Variable?) throws -> Variable {
    let value = try normalizeBackward(g.data, input: x.data, statistics: statistics, mean: mean, invStd: invStd,
                                      weight: weight?.data).input
    let gData = g.data, xData = x.data, wData = weight?.data
    let wantsWeight = weight?.requiresGrad == true, wantsInput = x.requiresGrad
    return record("normalize_input_gradient", value, [g, x, weight]) {
        { u in
            let gg = g.requiresGrad
                ? try normalizeBackward(u, input: xData, statistics: statistics, mean: mean, invStd: invStd, weight: wData).input
                : nil
            guard wantsWeight || wantsInput else { return [gg, nil, nil] }
            let terms = try SecondOrderNormTerms(u: u, g: gData, x: xData, statistics: statistics, mean: mean,
                                                 invStd: invStd, weight: wData)
            return [gg, wantsInput ? try terms.inputGradient() : nil, wantsWeight ? try terms.weightGradient() : nil]
        }
    }
}

/// The per-group means the x and γ terms share, in Double.
private struct SecondOrderNormTerms {
    let u: Tensor, g: Tensor, x: Tensor
    let statistics: NormStatistics
    let mean: [Float], invStd: [Float]
    let weight: Tensor?
    let groups: Int
    let count: Double
    /// Per group: ḡ, ū, a = mean(g·x̂), b = mean(u·x̂), C = mean(u·g) − ū·ḡ.
    var gBar: [Double], uBar: [Double], a: [Double], b: [Double], c: [Double]

    init(u: Tensor, g: Tensor, x: Tensor, statistics: NormStatistics, mean: [Float], invStd: [Float],
         weight: Tensor?) throws {
        guard u.shape == x.shape, g.shape == x.shape else {
            throw EngineError(.shapeMismatch, "normalize_input_gradient: gradients \(u.shape), \(g.shape) do not match input \(x.shape)")
        }
        if case .synchronized = statistics {
            throw EngineError(.shapeMismatch, "the second derivative of batch normalisation synchronised across processes is not implemented (a gradient penalty on several ranks)")
        }
        (self.u, self.g, self.x, self.statistics, self.mean, self.invStd, self.weight) = (u, g, x, statistics, mean, invStd, weight)
        let (n, ch, h, w) = x.nchw
        let plane = h * w
        let perInstance = statistics.isPerInstance
        groups = perInstance ? n * ch : ch
        count = Double(perInstance ? plane : n * plane)
        // Σg, Σu, Σg·x̂, Σu·x̂, Σu·g per plane, then per group.
        var sums = [Double](repeating: 0, count: n * ch * 5)
        let up = u.pointer, gp = g.pointer, xp = x.pointer
        sums.withUnsafeMutableBufferPointer { s in
            parallelFor(n * ch, elementsPerItem: plane) { p in
                let group = perInstance ? p : p % ch
                let m = mean[group], k = invStd[group]
                var t = (0.0, 0.0, 0.0, 0.0, 0.0)
                for i in (p * plane)..<((p + 1) * plane) {
                    let gv = Double(gp[i]), uv = Double(up[i]), xh = Double((xp[i] - m) * k)
                    t.0 += gv; t.1 += uv; t.2 += gv * xh; t.3 += uv * xh; t.4 += uv * gv
                }
                (s[p * 5], s[p * 5 + 1], s[p * 5 + 2], s[p * 5 + 3], s[p * 5 + 4]) = t
            }
        }
        var perGroup = [Double](repeating: 0, count: groups * 5)
        for p in 0..<(n * ch) {
            let group = perInstance ? p : p % ch
            for j in 0..<5 { perGroup[group * 5 + j] += sums[p * 5 + j] }
        }
        let m = count
        gBar = (0..<groups).map { perGroup[$0 * 5] / m }
        uBar = (0..<groups).map { perGroup[$0 * 5 + 1] / m }
        a = (0..<groups).map { perGroup[$0 * 5 + 2] / m }
        b = (0..<groups).map { perGroup[$0 * 5 + 3] / m }
        c = (0..<groups).map { [gBar, uBar] in perGroup[$0 * 5 + 4] / m - uBar[$0] * gBar[$0] }
    }

    private var dependsOnBatch: Bool {
        if case .running = statistics { return false }
        return true
    }

    /// d⟨u, F⟩/dx: zero with running statistics.
    func inputGradient() throws -> Tensor {
        guard dependsOnBatch else { return try Tensor(zeros: x.shape) }
        let (n, ch, h, w) = x.nchw
        let plane = h * w
        let perInstance = statistics.isPerInstance
        let out = try Tensor(uninitialized: x.shape)
        let up = u.pointer, gp = g.pointer, xp = x.pointer, op = out.mutablePointer, wp = weight?.pointer
        parallelFor(n * ch, elementsPerItem: plane) { p in
            let group = perInstance ? p : p % ch
            let s = Double(invStd[group]), mu = mean[group], k = invStd[group]
            let gamma = Double(wp?[p % ch] ?? 1)
            let (ga, gb) = (a[group], b[group])
            let lead = 3 * ga * gb - c[group]
            let scale = gamma * s * s
            for i in (p * plane)..<((p + 1) * plane) {
                let xh = Double((xp[i] - mu) * k)
                let term = lead * xh - gb * (Double(gp[i]) - gBar[group]) - ga * (Double(up[i]) - uBar[group])
                op[i] = Float(scale * term)
            }
        }
        return out
    }

    /// d⟨u, F⟩/dγ per channel: Σ M·s·(C − a·b) over the channel's groups (s·Σu·g with running
    /// statistics, where F = γ·s·g).
    func weightGradient() throws -> Tensor {
        let ch = x.shape[1]
        var total = [Double](repeating: 0, count: ch)
        for group in 0..<groups {
            let s = Double(invStd[group])
            let term = dependsOnBatch ? c[group] - a[group] * b[group] : c[group] + uBar[group] * gBar[group]
            total[group % ch] += count * s * term
        }
        return try Tensor(shape: [ch], values: total.map { Float($0) })
    }
}
