import Foundation

/// Recycles large buffers.
///
/// A forward pass allocates the same handful of activation sizes for every image; handing those
/// pages back to the kernel and faulting fresh zeroed ones in costs more than the convolutions
/// (measured: resnet_9blocks at 1024×768 ran 3× slower), while letting glibc keep them in its
/// heap fragments it (2 GB peak for a 1 GB working set). Reusing the smallest idle buffer that fits (up to twice
/// the size asked for) keeps both down.
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()

    /// Buffers below this go straight to malloc: they are cheap and many.
    public let minimumPooledBytes = 1 << 20
    /// Idle bytes kept for reuse; beyond this the oldest idle buffers are freed.
    public var idleLimit: Int {
        get { lock.withLock { limit } }
        set { lock.withLock { limit = newValue; evict() } }
    }

    /// The most bytes handed out and not yet released at once (pooled sizes only).
    public var peakLiveBytes: Int { lock.withLock { peakLive } }
    /// Bytes obtained from the kernel so far (each costs page faults and zeroing on first touch).
    public var mappedBytes: Int { lock.withLock { mapped } }

    private let lock = NSLock()
    private var live = 0
    private var mapped = 0
    private var peakLive = 0
    private var limit = 2 << 30
    private var idle: [(bytes: Int, pointer: UnsafeMutableRawPointer)] = []
    /// Actual sizes of pooled buffers in use (a reused buffer may be larger than asked for).
    private var outstanding: [UnsafeMutableRawPointer: Int] = [:]
    private var idleBytes = 0

    /// 64-byte-aligned memory of at least `bytes` bytes; throws `outOfMemory` when the system
    /// refuses (sizes come from images and flags, so this must never trap).
    public func allocate(_ bytes: Int) throws(EngineError) -> UnsafeMutableRawPointer {
        guard bytes >= 0, bytes <= Self.maxBytes else { throw .outOfMemory(bytes) }
        let size = Self.rounded(bytes)
        if size >= minimumPooledBytes {
            let reused: UnsafeMutableRawPointer? = lock.withLock {
                var best: Int?
                for (i, b) in idle.enumerated() where b.bytes >= size && b.bytes <= 2 * size {
                    if best == nil || b.bytes < idle[best!].bytes { best = i }
                }
                guard let best else { return nil }
                let b = idle.remove(at: best)
                idleBytes -= b.bytes
                outstanding[b.pointer] = b.bytes
                live += b.bytes
                peakLive = max(peakLive, live)
                return b.pointer
            }
            if let reused { return reused }
        }
        if size >= minimumPooledBytes {
            guard let raw = Self.mapHuge(size) else { throw .outOfMemory(size) }
            lock.withLock {
                mapped += size
                outstanding[raw] = size
                live += size
                peakLive = max(peakLive, live)
            }
            return raw
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, size) == 0, let raw else { throw .outOfMemory(size) }
        return raw
    }

    /// Pooled buffers are mapped directly, 2 MB-aligned and marked for transparent huge pages, so
    /// large activations take 512× fewer page faults and TLB entries. First touch still costs the
    /// kernel's zeroing, which on these VMs is slow (about 4 s of a first 1024×768
    /// resnet_9blocks pass): hence the pool.
    private static let hugePage = 2 << 20

    /// Far beyond any machine (1 PiB); keeps the size arithmetic below from overflowing.
    static let maxBytes = 1 << 50

    private static func mapHuge(_ size: Int) -> UnsafeMutableRawPointer? {
        let span = size + hugePage
        guard let base = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              base != MAP_FAILED else { return nil }
        let start = (Int(bitPattern: base) + hugePage - 1) & ~(hugePage - 1)
        let head = start - Int(bitPattern: base)
        if head > 0 { munmap(base, head) }
        let tail = span - head - size
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: start + size), tail) }
        let p = UnsafeMutableRawPointer(bitPattern: start)!
        madvise(p, size, MADV_HUGEPAGE)
        return p
    }

    public func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let size = Self.rounded(bytes)
        guard size >= minimumPooledBytes else { return free(pointer) }
        lock.withLock {
            let actual = outstanding.removeValue(forKey: pointer) ?? size
            live -= actual
            idle.append((actual, pointer))
            idleBytes += actual
            evict()
        }
    }

    private func evict() {
        while idleBytes > limit, !idle.isEmpty {
            let b = idle.removeFirst()
            idleBytes -= b.bytes
            Self.unmap(b.pointer, b.bytes)
        }
    }

    private static func rounded(_ bytes: Int) -> Int { max(64, (bytes + 4095) & ~4095) }

    private static func unmap(_ pointer: UnsafeMutableRawPointer, _ size: Int) { munmap(pointer, size) }
}
