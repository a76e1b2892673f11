import Engine

/// A layer that streamed inference can run: it says what it needs of `StreamedForward` — a
/// banded convolution, a deferred op on the rows as they are read, a residual sum, or its
/// children in turn — instead of `StreamedForward` switching on layer types it must know.
/// A new layer that should stream conforms here, beside the others.
protocol StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue
}

extension Sequential: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue {
        try layers.reduce(x) { try forward.apply($1, $0) }
    }
}

/// A wrapper whose one child is the network.
extension Root: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue {
        try forward.apply(children[0].module, x)
    }
}

extension Conv2d: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue { try forward.convolve(x, self) }
}

extension ConvTranspose2d: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue { try forward.convolveTransposed(x, self) }
}

extension BlurDownsample: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue {
        try forward.filtered(PaddedValue(x, amount: Self.padding, mode: .reflect), filter: filter, stride: Self.stride,
                             padding: 0, transposed: false)
    }
}

extension BlurUpsample: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue {
        try forward.filtered(PaddedValue(x, amount: Self.edge, mode: .replicate), filter: filter, stride: Self.stride,
                             padding: Self.padding, transposed: true)
    }
}

extension Pad2d: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue { PaddedValue(x, amount: amount, mode: mode) }
}

extension Norm2d: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue { try forward.normalized(x, self) }
}

extension ActivationLayer: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue { x.activated(activation) }
}

extension DropoutLayer: StreamedLayer {
    /// Deterministic inference only (stochastic dropout is refused before streaming starts).
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue { x }
}

/// A block whose output is its input plus its one child's output.
extension ResidualBlock: StreamedLayer {
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue {
        try forward.residual(x, children[0].module)
    }
}

extension UnetBlock: StreamedLayer {
    /// The skip: every block but the outermost concatenates its input with its output.
    func streamed(_ x: StreamValue, by forward: StreamedForward) throws -> StreamValue {
        let y = try forward.apply(children[0].module, x)
        return role == .outermost ? y : ConcatValue(x, y)
    }
}
