#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How long oneDNN's OpenMP workers spin before sleeping between parallel regions.
///
/// libgomp's default spins for about 300,000 iterations: on a quiet machine that saves a wake-up
/// per region, but when another process holds a core, the spinning worker steals its time slice
/// from the thread it waits for (resnet_9blocks with `yes` on the other core: 2.1 s per image
/// spinning, 0.75 s passive; docs/performance.md). libgomp reads its settings once, when the
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
