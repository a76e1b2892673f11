/// CPython's `random` module, as far as the StarGAN solver uses it: `random.seed(n)` for an int
/// and `random.shuffle(list)`. Its CelebA loader splits train from test with them, so taking the
/// same images out needs the same stream: MT19937 seeded by `init_by_array`, and shuffle's
/// `_randbelow` drawing `getrandbits(bit_length(n))` until the value is below `n`.
/// Checked against CPython (tools/fixtures/make_python_random_fixtures.py).
public struct PythonRandom {
    private static let n = 624, m = 397
    private var state = [UInt32](repeating: 0, count: n)
    private var index = n

    /// `random.seed(seed)`: the absolute value split into 32-bit words, least significant first.
    public init(seed: UInt64) {
        var key: [UInt32] = []
        var rest = seed
        repeat {
            key.append(UInt32(truncatingIfNeeded: rest))
            rest >>= 32
        } while rest > 0
        seedByArray(key)
    }

    private mutating func seedByArray(_ key: [UInt32]) {
        let n = Self.n
        state[0] = 19_650_218
        for i in 1..<n { state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i) }
        var i = 1, j = 0
        for _ in 0..<max(n, key.count) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= n { state[0] = state[n - 1]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<(n - 1) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= n { state[0] = state[n - 1]; i = 1 }
        }
        state[0] = 0x8000_0000
        index = n
    }

    /// `getrandbits(32)`: one tempered MT19937 output.
    public mutating func next32() -> UInt32 {
        if index >= Self.n { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        let n = Self.n
        for k in 0..<n {
            // In place and in order, as CPython's two loops: the last entries read updated ones.
            let y = (state[k] & 0x8000_0000) | (state[(k + 1) % n] & 0x7FFF_FFFF)
            state[k] = state[(k + Self.m) % n] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }

    /// `_randbelow(n)` for 1 ≤ n < 2³²: `getrandbits(k)` with k = n's bit length, drawn again
    /// while it is n or more.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound >= 1 && bound <= Int(UInt32.max), "bound \(bound) out of range")
        let k = Int.bitWidth - bound.leadingZeroBitCount
        while true {
            let r = Int(next32() >> UInt32(32 - k))
            if r < bound { return r }
        }
    }

    /// `random.shuffle(items)`: Fisher–Yates from the end.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, through: 1, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }
}
