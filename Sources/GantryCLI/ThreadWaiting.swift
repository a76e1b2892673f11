#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How long oneDNN's OpenMP workers spin before sleeping between parallel regions.
///
/// libgomp's default spins for about 300,000 iterations: on a quiet machine that saves a wake-up
/// per region, but when another process holds a core, the spinning worker steals its time slice
/// from the thread it waits for (resnet_9blocks at 256², AVX2, `yes` on the other core: 0.65 s
/// per image with the default, 0.55 s with 10,000 or passive waiting, and 0.25 s for all three
/// on a quiet machine; docs/performance.md). libgomp reads its settings once, when the
/// process starts, so gantry sets `GOMP_SPINCOUNT` and starts itself again, unless the user set
/// the wait policy or the spin count themselves.
enum ThreadWaiting {
    static let spinCount = "10000"

    static func configure() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OMP_WAIT_POLICY"] == nil, environment["GOMP_SPINCOUNT"] == nil else { return }
        setenv("GOMP_SPINCOUNT", spinCount, 1)
        // Only returns on failure: then gantry runs on with libgomp's defaults.
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
