/// A small, fast, seedable generator (xoshiro256**), so `--seed` makes stochastic dropout repeatable.
public final class RandomSource: @unchecked Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        // SplitMix64 spreads any seed (including 0) over the whole state.
        var z = seed
        func next() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s = (next(), next(), next(), next())
    }

    /// The generator's whole state: a run saves it so that resuming draws what an uninterrupted
    /// run would have drawn.
    public var state: [UInt64] { [s.0, s.1, s.2, s.3] }

    /// A generator continuing from a saved `state` (four words, not all zero).
    public init(state: [UInt64]) throws(EngineError) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw EngineError(.shapeMismatch, "a random generator state is four words, not all zero; got \(state.count)")
        }
        s = (state[0], state[1], state[2], state[3])
    }

    /// Continues from a saved `state` (as `init(state:)`), in place, for holders of this instance.
    public func restore(_ state: [UInt64]) throws(EngineError) {
        s = try RandomSource(state: state).s
    }

    public func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    public func nextUnit() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
}

/// Inverted dropout: zeroes each element with probability `p` and scales survivors by 1/(1-p),
/// as nn.Dropout does in training mode. Returns the output and the keep mask (1 or 0) for backward.
/// `skipping` (before, after) draws are taken and discarded around x's: a data-parallel rank
/// drawing its rows of the global batch's mask.
public func dropout(_ x: Tensor, probability p: Float, random: RandomSource,
                    skipping: (before: Int, after: Int) = (0, 0)) throws(EngineError) -> (output: Tensor, mask: Tensor) {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1)")
    precondition(skipping.before >= 0 && skipping.after >= 0, "dropout skips a negative number of draws")
    let y = try Tensor(uninitialized: x.shape), mask = try Tensor(uninitialized: x.shape)
    let scale = 1 / (1 - p)
    let xp = x.pointer, yp = y.mutablePointer, mp = mask.mutablePointer
    for _ in 0..<skipping.before { _ = random.next() }
    for i in 0..<x.count {
        let keep: Float = random.nextUnit() >= p ? 1 : 0
        mp[i] = keep
        yp[i] = xp[i] * keep * scale
    }
    for _ in 0..<skipping.after { _ = random.next() }
    return (y, mask)
}

/// Differentiable inverted dropout; the mask is kept for backward (gradient = g · mask / (1 − p)).
public func dropout(_ x: Variable, probability p: Float, random: RandomSource, skipping: (before: Int, after: Int) = (0, 0)) throws -> Variable {
    let (y, mask) = try dropout(x.data, probability: p, random: random, skipping: skipping)
    let scale = 1 / (1 - p)
    return record("dropout", y, [x]) {
        { g in
            let gx = try Tensor(uninitialized: g.shape)
            let gp = g.pointer, mp = mask.pointer, xp = gx.mutablePointer
            for i in 0..<g.count { xp[i] = gp[i] * mp[i] * scale }
            return [gx]
        }
    }
}
