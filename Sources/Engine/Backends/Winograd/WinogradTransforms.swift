/// The three transforms of Winograd F(4×4, 3×3), `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`, with the
/// interpolation points (0, ±√2/2, ±√2, ∞) that ncnn adopted in 2023: same cost as Lavin's
/// (0, ±1, ±2, ∞) and about 2.4× less fp32 rounding error (see docs/performance.md).
///
/// Each 1-D transform works on eight independent lanes at once (eight tiles, or eight channels
/// for the weights); the 2-D transform applies it along rows, then along columns. The matrices,
/// with s = √2:
///
///     Bᵀ = [1 0 −5/2 0 1 0; 0 −s −2 s/2 1 0; 0 s −2 −s/2 1 0;
///           0 −s/2 −1/2 s 1 0; 0 s/2 −1/2 −s 1 0; 0 1 0 −5/2 0 1]
///     G  = [1 0 0; −2/3 −s/3 −1/3; −2/3 s/3 −1/3; 1/6 s/6 1/3; 1/6 −s/6 1/3; 0 0 1]
///     Aᵀ = [1 1 1 1 1 0; 0 s/2 −s/2 s −s 0; 0 1/2 1/2 2 2 0; 0 s/4 −s/4 2s −2s 1]
enum WinogradF43 {
    typealias V8 = SIMD8<Float>

    /// Output tile edge (m) and input tile edge (α = m + 2).
    static let m = 4
    static let alpha = 6
    /// Coordinates per tile in the transformed domain (α²): one GEMM each.
    static let coordinates = 36

    static let s: Float = 1.41421356237309504880
    static let halfS: Float = 0.70710678118654752440
    static let quarterS: Float = 0.35355339059327376220

    /// `Bᵀ d` for one column of six input values.
    @inline(__always)
    static func input(_ d0: V8, _ d1: V8, _ d2: V8, _ d3: V8, _ d4: V8, _ d5: V8)
        -> (V8, V8, V8, V8, V8, V8) {
        let a = d4 - 2 * d2, b = halfS * d3 - s * d1
        let c = d4 - 0.5 * d2, e = s * d3 - halfS * d1
        return (d0 - 2.5 * d2 + d4, a + b, a - b, c + e, c - e, d1 - 2.5 * d3 + d5)
    }

    /// `Aᵀ m` for one column of six transformed values: four outputs.
    @inline(__always)
    static func output(_ m0: V8, _ m1: V8, _ m2: V8, _ m3: V8, _ m4: V8, _ m5: V8) -> (V8, V8, V8, V8) {
        let p = m1 + m2, q = m3 + m4, u = m1 - m2, v = m3 - m4
        return (m0 + p + q, halfS * u + s * v, 0.5 * p + 2 * q, quarterS * u + 2 * s * v + m5)
    }

    /// `G g` for one column of three kernel values: six outputs.
    @inline(__always)
    static func kernel(_ g0: V8, _ g1: V8, _ g2: V8) -> (V8, V8, V8, V8, V8, V8) {
        let a = (-2.0 / 3.0) * g0 - (1.0 / 3.0) * g2, b = (s / 3) * g1
        let c = (1.0 / 6.0) * g0 + (1.0 / 3.0) * g2, e = (s / 6) * g1
        return (g0, a - b, a + b, c + e, c - e, g2)
    }
}

extension WinogradF43 {
    /// Transformed weights `U[ξ][o][i] = (G w[o][i] Gᵀ)[ξ]`, one row-major `outputs × inputs`
    /// matrix per coordinate ξ, ready to be the A operand of the 36 GEMMs.
    ///
    /// `w` is a PyTorch conv weight `[cout, cin, 3, 3]`. With `adjoint`, the result is for the
    /// convolution that computes the input gradient: outputs = cin, inputs = cout and each kernel
    /// rotated by 180° (`w'[i][o][r][c] = w[o][i][2−r][2−c]`).
    static func transformWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int, adjoint: Bool,
                                 into u: UnsafeMutablePointer<Float>) {
        let (outputs, inputs) = adjoint ? (cin, cout) : (cout, cin)
        let plane = outputs * inputs
        parallelFor(outputs, elementsPerItem: inputs * 300) { o in
            withUnsafeTemporaryAllocation(of: V8.self, capacity: 9 + 18 + 6) { scratch in
                let g = scratch.baseAddress!, t = g + 9, row = t + 18
                for i0 in stride(from: 0, to: inputs, by: 8) {
                    let lanes = min(8, inputs - i0)
                    // g[r·3 + c] for eight input channels at once.
                    for k in 0..<9 { g[k] = .zero }
                    for lane in 0..<lanes {
                        let i = i0 + lane
                        let base = adjoint ? (i * cin + o) * 9 : (o * cin + i) * 9
                        for k in 0..<9 { g[k][lane] = adjoint ? w[base + 8 - k] : w[base + k] }
                    }
                    // t = G g (6×3), then U = t Gᵀ (6×6).
                    for c in 0..<3 {
                        (t[c], t[3 + c], t[6 + c], t[9 + c], t[12 + c], t[15 + c]) = kernel(g[c], g[3 + c], g[6 + c])
                    }
                    for k in 0..<6 {
                        (row[0], row[1], row[2], row[3], row[4], row[5]) = kernel(t[3 * k], t[3 * k + 1], t[3 * k + 2])
                        for l in 0..<6 {
                            let dst = u + (k * 6 + l) * plane + o * inputs + i0
                            if lanes == 8 {
                                UnsafeMutableRawPointer(dst).storeBytes(of: row[l], as: V8.self)
                            } else {
                                for lane in 0..<lanes { dst[lane] = row[l][lane] }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension WinogradF43 {
    // The weight gradient runs the forward algorithm transposed: with U = G g Gᵀ and
    // M = U ⊙ V, dL/dU = Σ_tiles (A dY Aᵀ) ⊙ V and dL/dg = Gᵀ (dL/dU) G.

    /// `A d` for one column of four output-gradient values: six outputs (A = (Aᵀ)ᵀ).
    @inline(__always)
    static func gradientOutput(_ d0: V8, _ d1: V8, _ d2: V8, _ d3: V8) -> (V8, V8, V8, V8, V8, V8) {
        let e = d0 + 0.5 * d2, f = halfS * d1 + quarterS * d3
        let g = d0 + 2 * d2, h = s * d1 + 2 * s * d3
        return (d0, e + f, e - f, g + h, g - h, d3)
    }

    /// `Gᵀ u` for one column of six transformed-domain values: three kernel values.
    @inline(__always)
    static func kernelGradient(_ u0: V8, _ u1: V8, _ u2: V8, _ u3: V8, _ u4: V8, _ u5: V8) -> (V8, V8, V8) {
        let p = u1 + u2, q = u3 + u4
        return (u0 - (2.0 / 3.0) * p + (1.0 / 6.0) * q,
                (s / 3) * (u2 - u1) + (s / 6) * (u3 - u4),
                (1.0 / 3.0) * (q - p) + u5)
    }

    /// `dw[o][i] = Gᵀ dU[·][o][i] G` for every kernel, from `du` laid out as `transformWeights`
    /// writes U (`[36][cout][cin]`), into a PyTorch-layout `[cout, cin, 3, 3]` gradient.
    static func gradientWeights(_ du: UnsafePointer<Float>, cout: Int, cin: Int, into dw: UnsafeMutablePointer<Float>) {
        let plane = cout * cin
        parallelFor(cout, elementsPerItem: cin * 300) { o in
            withUnsafeTemporaryAllocation(of: V8.self, capacity: 36 + 18 + 3) { scratch in
                let u = scratch.baseAddress!, t = u + 36, r = t + 18
                for i0 in stride(from: 0, to: cin, by: 8) {
                    let lanes = min(8, cin - i0)
                    for xi in 0..<36 {
                        let src = du + xi * plane + o * cin + i0
                        if lanes == 8 {
                            u[xi] = UnsafeRawPointer(src).loadUnaligned(as: V8.self)
                        } else {
                            u[xi] = .zero
                            for lane in 0..<lanes { u[xi][lane] = src[lane] }
                        }
                    }
                    // t[k][b] = Σ_l dU[k][l] G[l][b], then dw[a][b] = Σ_k G[k][a] t[k][b].
                    for k in 0..<6 {
                        (t[3 * k], t[3 * k + 1], t[3 * k + 2]) = kernelGradient(
                            u[6 * k], u[6 * k + 1], u[6 * k + 2], u[6 * k + 3], u[6 * k + 4], u[6 * k + 5])
                    }
                    for b in 0..<3 {
                        (r[0], r[1], r[2]) = kernelGradient(t[b], t[3 + b], t[6 + b], t[9 + b], t[12 + b], t[15 + b])
                        for a in 0..<3 {
                            for lane in 0..<lanes { dw[(o * cin + i0 + lane) * 9 + a * 3 + b] = r[a][lane] }
                        }
                    }
                }
            }
        }
    }
}
