#if canImport(Glibc)
import Glibc
#endif
import CGantrySystem
import Foundation

/// Process-wide settings of the C runtimes under the engine, made before any work starts.
enum ProcessTuning {
    /// How long oneDNN's OpenMP workers spin before sleeping between parallel regions.
    ///
    /// libgomp's default spins for about 300,000 iterations: on a quiet machine that saves a
    /// wake-up per region, but when another process holds a core, the spinning worker steals its
    /// time slice from the thread it waits for (resnet_9blocks at 256², AVX2, `yes` on the other
    /// core: 0.65 s per image with the default, 0.55 s with 10,000 or passive waiting, and 0.25 s
    /// for all three on a quiet machine; docs/performance.md).
    static let spinCount = "10000"

    /// Blocks below this come from the heap and stay there when freed.
    ///
    /// glibc serves large blocks with mmap and returns them on free; oneDNN's GEMMs allocate
    /// their packing buffers per call, so every call faulted fresh (transparent huge) pages in
    /// and the kernel zeroed them: resnet_9blocks faulted ~330 more pages per image, ~4% of its
    /// time in `clear_page_erms`, and none with these limits, at the same peak RSS.
    static let mmapThreshold: Int32 = 64 << 20
    static let trimThreshold: Int32 = 256 << 20

    static func configure() {
        _ = gantry_tune_allocator(mmapThreshold, trimThreshold)
        let environment = ProcessInfo.processInfo.environment
        guard environment["OMP_WAIT_POLICY"] == nil, environment["GOMP_SPINCOUNT"] == nil else { return }
        // libgomp reads its settings once, when the process starts: start again with them.
        setenv("GOMP_SPINCOUNT", spinCount, 1)
        // Only returns on failure: then gantry runs on with libgomp's defaults.
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
