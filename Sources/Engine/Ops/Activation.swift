import Foundation

/// Pointwise non-linearities used by the generators.
public enum Activation: Equatable, Sendable {
    case relu
    case leakyReLU(slope: Float)
    case tanh

    @inline(__always)
    func apply(_ v: Float) -> Float {
        switch self {
        case .relu: return v > 0 ? v : 0
        case .leakyReLU(let slope): return v > 0 ? v : v * slope
        case .tanh: return Foundation.tanh(v)
        }
    }

    /// Applies the activation to every element, into `output` (which may be `x`) or a new tensor.
    public func callAsFunction(_ x: Tensor, into output: Tensor? = nil) throws(EngineError) -> Tensor {
        let y: Tensor
        if let output { y = output } else { y = try Tensor(uninitialized: x.shape) }
        precondition(y.shape == x.shape, "activation output shape \(y.shape) differs from input \(x.shape)")
        let xp = x.pointer, yp = y.mutablePointer
        let chunk = 1 << 14
        let chunks = (x.count + chunk - 1) / chunk
        parallelFor(chunks, elementsPerItem: chunk) { k in
            let end = min(x.count, (k + 1) * chunk)
            switch self {
            case .relu: for i in (k * chunk)..<end { yp[i] = max(xp[i], 0) }
            case .leakyReLU(let s): for i in (k * chunk)..<end { let v = xp[i]; yp[i] = v > 0 ? v : v * s }
            case .tanh: for i in (k * chunk)..<end { yp[i] = Foundation.tanh(xp[i]) }
            }
        }
        return y
    }
}

extension Activation {
    /// Gradient of the activation from its *output* `y` (so backward keeps the output, which
    /// the next layer holds anyway, rather than the input): ReLU and LeakyReLU pass where y > 0
    /// (the same as x > 0 for a positive slope), tanh scales by 1 − y².
    public func backward(_ gradOutput: Tensor, output y: Tensor) throws -> Tensor {
        let gx = try Tensor(uninitialized: y.shape)
        let gp = gradOutput.pointer, yp = y.pointer, xp = gx.mutablePointer
        let chunk = 1 << 14
        parallelFor((y.count + chunk - 1) / chunk, elementsPerItem: chunk) { k in
            let range = (k * chunk)..<min(y.count, (k + 1) * chunk)
            switch self {
            case .relu: for i in range { xp[i] = yp[i] > 0 ? gp[i] : 0 }
            case .leakyReLU(let s): for i in range { xp[i] = yp[i] > 0 ? gp[i] : gp[i] * s }
            case .tanh: for i in range { xp[i] = gp[i] * (1 - yp[i] * yp[i]) }
            }
        }
        return gx
    }

    /// Differentiable activation; `output` (see `reusableStorage`) takes the result when nothing
    /// is recorded.
    public func callAsFunction(_ x: Variable, into output: Tensor? = nil) throws -> Variable {
        let y = try self(x.data, into: records([x]) ? nil : output)
        return record("activation", y, [x]) { { g in [try self.backward(g, output: y)] } } twin: {
            { g in [try self.gradient(g, output: y)] }
        }
    }

    /// The backward `g ⊙ f′` as a differentiable op of `g`. ReLU and LeakyReLU are piecewise
    /// linear, so f′ is a constant mask and the op's own backward is the same masking.
    func gradient(_ g: Variable, output y: Tensor) throws -> Variable {
        guard self != .tanh else {
            throw EngineError(.unsupported, "a gradient of a gradient through tanh is not implemented (critics use ReLU / LeakyReLU)")
        }
        return record("activation_gradient", try backward(g.data, output: y), [g]) {
            { outer in [try self.backward(outer, output: y)] }
        }
    }
}
