import AtomicFiles
import Foundation

func warn(_ message: String) {
    StandardStreams.error("gantry: \(message)\n")
}

/// Turns SIGINT/SIGTERM into a call (stop taking inputs, finish those in flight).
final class SignalWatcher {
    private var sources: [DispatchSourceSignal] = []

    init(_ handler: @escaping @Sendable () -> Void) {
        // A parent may start us with these blocked (the mask survives exec); unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler(handler: handler)
            s.resume()
            sources.append(s)
        }
    }

    deinit {
        for s in sources { s.cancel() }
    }
}
