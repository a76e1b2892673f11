import Engine
import Foundation

/// Where streamed inference keeps whole-image activations: in memory up to `memoryLimit` bytes
/// in all, in scratch files under `directory` beyond it.
///
/// Scratch files are unlinked as soon as they are opened, so a crash or a kill leaves nothing
/// behind, and are read and written with `pread` / `pwrite` rather than mapped: the kernel's page
/// cache holds what fits without counting it in the process's resident memory.
public final class ScratchSpace: @unchecked Sendable {
    public let directory: URL
    public let memoryLimit: Int
    /// Bytes of stores held in memory now.
    var inMemory = 0
    /// The most bytes of file-backed stores alive at once (for the benchmark's report).
    public private(set) var peakFileBytes = 0
    var inFiles = 0

    public init(directory: URL = URL(fileURLWithPath: NSTemporaryDirectory()), memoryLimit: Int) {
        self.directory = directory
        self.memoryLimit = memoryLimit
    }

    func opened(fileBytes: Int) {
        inFiles += fileBytes
        peakFileBytes = max(peakFileBytes, inFiles)
    }
}

/// One whole-image activation, C×H×W floats stored row-interleaved (each row y holds C runs of
/// W), so a band of rows is one contiguous range. Written band by band, each band's per-channel
/// Σx and Σx² are added up in Double as it goes: the statistics a following normalisation needs.
final class ActivationStore {
    let channels: Int, height: Int, width: Int
    private let memory: UnsafeMutablePointer<Float>?
    private let file: Int32
    private let path: String
    private unowned let scratch: ScratchSpace
    /// Per channel: Σ(x − K) and Σ(x − K)² with K the first band's mean, which keeps the
    /// variance exact when the mean is large against the spread.
    private var sum: [Double], sumOfSquares: [Double], center: [Float]?

    var rowFloats: Int { channels * width }
    var byteCount: Int { rowFloats * height * MemoryLayout<Float>.stride }

    init(channels: Int, height: Int, width: Int, scratch: ScratchSpace) throws {
        (self.channels, self.height, self.width, self.scratch) = (channels, height, width, scratch)
        sum = Array(repeating: 0, count: channels)
        sumOfSquares = sum
        let bytes = channels * width * height * MemoryLayout<Float>.stride
        if scratch.inMemory + bytes <= scratch.memoryLimit, let raw = malloc(max(1, bytes)) {
            // A refused allocation (a limit above what the machine has) falls through to a file.
            memory = raw.bindMemory(to: Float.self, capacity: max(1, bytes / MemoryLayout<Float>.stride))
            scratch.inMemory += bytes
            file = -1
            path = ""
        } else {
            var template = Array(scratch.directory.appendingPathComponent("gantry-scratch-XXXXXX").path.utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else {
                throw ModelError(.invalidInput, "cannot create a scratch file in \(scratch.directory.path) (\(String(cString: strerror(errno)))): large images spill activations there; make it writable or choose another folder")
            }
            path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
            unlink(path)
            file = fd
            memory = nil
            scratch.opened(fileBytes: bytes)
        }
    }

    deinit {
        if let memory {
            free(memory)
            scratch.inMemory -= byteCount
        } else {
            close(file)
            scratch.inFiles -= byteCount
        }
    }

    /// Stores `band` (1×C×n×W) as rows `y0..<y0+n`, adding its statistics when `accumulate`.
    func write(_ band: Tensor, atRow y0: Int, accumulate: Bool = true) throws {
        let (_, c, n, w) = band.nchw
        precondition(c == channels && w == width && y0 >= 0 && y0 + n <= height, "band \(band.shape) at row \(y0) does not fit \(channels)×\(height)×\(width)")
        try band.withUnsafeBufferPointer { src in
            if accumulate {
                if center == nil {
                    center = (0..<c).map { ch in Float(Self.sums(src.baseAddress! + ch * n * w, n * w, center: 0).0 / Double(max(1, n * w))) }
                }
                for ch in 0..<c {
                    let (s, q) = Self.sums(src.baseAddress! + ch * n * w, n * w, center: center![ch])
                    sum[ch] += s
                    sumOfSquares[ch] += q
                }
            }
            try withRows(y0..<(y0 + n), writing: true) { rows in
                for y in 0..<n {
                    for ch in 0..<c {
                        (rows + (y * c + ch) * w).update(from: src.baseAddress! + (ch * n + y) * w, count: w)
                    }
                }
            }
        }
    }

    /// Forgets the statistics (before the store is overwritten in place).
    func resetStatistics() {
        sum = Array(repeating: 0, count: channels)
        sumOfSquares = sum
        center = nil
    }

    /// Mean and biased variance per channel of everything written with `accumulate`.
    var statistics: (mean: [Float], variance: [Float]) {
        let n = Double(height * width)
        let k = center ?? Array(repeating: 0, count: channels)
        let offsets = sum.map { $0 / n }
        return ((0..<channels).map { Float(Double(k[$0]) + offsets[$0]) },
                (0..<channels).map { Float(max(0, sumOfSquares[$0] / n - offsets[$0] * offsets[$0])) })
    }

    /// Rows `range` as a 1×C×n×W tensor (a fresh one the caller may change).
    func read(_ range: Range<Int>) throws -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= height, "rows \(range) outside 0..<\(height)")
        let n = range.count, c = channels, w = width
        let out = try Tensor(uninitialized: [1, c, n, w])
        try out.withUnsafeMutableBufferPointer { dst in
            try withRows(range, writing: false) { rows in
                for ch in 0..<c {
                    for y in 0..<n {
                        (dst.baseAddress! + (ch * n + y) * w).update(from: rows + (y * c + ch) * w, count: w)
                    }
                }
            }
        }
        return out
    }

    /// The stored rows in row-interleaved order: in place for a memory store; through a buffer
    /// read from (and, when `writing`, written back to) the file otherwise.
    private func withRows(_ range: Range<Int>, writing: Bool, _ body: (UnsafeMutablePointer<Float>) throws -> Void) throws {
        if let memory { return try body(memory + range.lowerBound * rowFloats) }
        let count = range.count * rowFloats
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        defer { buffer.deallocate() }
        let bytes = count * MemoryLayout<Float>.stride
        let offset = off_t(range.lowerBound * rowFloats * MemoryLayout<Float>.stride)
        if !writing { try transfer(UnsafeMutableRawPointer(buffer), bytes, offset, write: false) }
        try body(buffer)
        if writing { try transfer(UnsafeMutableRawPointer(buffer), bytes, offset, write: true) }
    }

    private func transfer(_ p: UnsafeMutableRawPointer, _ bytes: Int, _ offset: off_t, write: Bool) throws {
        var done = 0
        while done < bytes {
            let r = write ? pwrite(file, p + done, bytes - done, offset + off_t(done)) : pread(file, p + done, bytes - done, offset + off_t(done))
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else {
                let why = r < 0 ? String(cString: strerror(errno)) : "unexpected end of file"
                throw ModelError(.invalidInput, "scratch file in \(scratch.directory.path): \(write ? "writing" : "reading") failed (\(why)); a large image needs about \(byteCount >> 20) MB free there for this layer")
            }
            done += r
        }
    }

    /// Σ(x − k) and Σ(x − k)² of `n` floats: float SIMD over chunks of 1024, chunks added in
    /// Double (as the whole-image normalisation sums).
    static func sums(_ p: UnsafePointer<Float>, _ n: Int, center k: Float) -> (Double, Double) {
        var total = 0.0, squares = 0.0
        let kv = SIMD16<Float>(repeating: k)
        var i = 0
        while i < n {
            let end = min(n, i + 1024)
            var a = SIMD16<Float>(), b = SIMD16<Float>()
            var j = i
            while j + 16 <= end {
                let v = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD16<Float>.self) - kv
                a += v
                b += v * v
                j += 16
            }
            var ra: Float = 0, rb: Float = 0
            while j < end { let v = p[j] - k; ra += v; rb += v * v; j += 1 }
            total += Double(a.sum() + ra)
            squares += Double(b.sum() + rb)
            i = end
        }
        return (total, squares)
    }
}
