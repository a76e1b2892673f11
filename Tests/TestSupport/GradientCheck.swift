import Engine
import Foundation

/// Worst disagreement between backward and central finite differences, relative to the largest
/// analytic gradient of the same input (so near-zero entries are judged on the tensor's scale).
///
/// The objective is Σ r ⊙ f(inputs) with fixed random weights r, summed in Double; each probed
/// element is moved by ±`step` in place and f recomputed. `probes` elements per input are
/// checked (evenly spread), which keeps reference-loop convolutions cheap.
public func finiteDifferenceError(_ inputs: [Variable], step: Float = 1e-2, probes: Int = 24, seed: UInt64 = 99,
                                  _ f: ([Variable]) throws -> Variable) throws -> Double {
    let y = try f(inputs)
    let r = randomTensor(y.shape, seed: seed)
    for v in inputs { v.zeroGrad() }
    try y.backward(r)
    func objective() throws -> Double {
        let out = try f(inputs).data.values, weights = r.values
        return zip(out, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    var worst = 0.0
    for v in inputs where v.requiresGrad {
        guard let grad = v.grad?.values else { return .infinity }
        let scale = max(grad.map { Double(abs($0)) }.max() ?? 0, 1e-6)
        let stride = max(1, v.data.count / probes)
        for i in Swift.stride(from: 0, to: v.data.count, by: stride) {
            let original = v.data.values[i]
            v.data.withUnsafeMutableBufferPointer { $0[i] = original + step }
            let plus = try objective()
            v.data.withUnsafeMutableBufferPointer { $0[i] = original - step }
            let minus = try objective()
            v.data.withUnsafeMutableBufferPointer { $0[i] = original }
            let numeric = (plus - minus) / Double(2 * step)
            worst = max(worst, abs(numeric - Double(grad[i])) / scale)
        }
    }
    return worst
}

/// A leaf of random values in [−scale, scale] whose magnitudes are at least `awayFromZero`
/// (so finite differences do not straddle the kink of ReLU, L1 or hinge).
public func randomVariable(_ shape: [Int], seed: UInt64, scale: Float = 1, awayFromZero: Float = 0,
                           requiresGrad: Bool = true) -> Variable {
    let t = randomTensor(shape, seed: seed, scale: scale)
    if awayFromZero > 0 {
        t.withUnsafeMutableBufferPointer { p in
            for i in p.indices where abs(p[i]) < awayFromZero { p[i] = p[i] < 0 ? p[i] - awayFromZero : p[i] + awayFromZero }
        }
    }
    return Variable(t, requiresGrad: requiresGrad)
}

/// Relative L2 distance ‖a − b‖ / ‖b‖ (the tolerance measure for gradients against PyTorch).
public func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "comparing \(a.count) with \(b.count) values")
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}
