import ArgumentParser
import Engine
import Foundation
import Pipeline
import Prometheus
import WatchStatus

/// `gantry watch INBOX -m CKPT -o OUTBOX`: the conversion pipeline as a hot-folder service.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert every image that arrives in a folder, exactly once, across crashes and restarts.",
        discussion: """
            A file is taken once it was closed or moved in and its size and mtime held still for --settle \
            seconds; hidden and temporary names (.*, *.tmp, *.part, *.crdownload, ~$*) are ignored. Inputs move \
            to --done (default INBOX/.done) or --failed (default INBOX/.failed, with NAME.error.json). Several \
            workers may share one inbox. SIGTERM/SIGINT stop intake and finish files in flight (--grace).
            """
    )

    @Argument(help: "Inbox folder.") var inbox: String
    @Option(name: [.short, .customLong("output")], help: "Outbox folder.") var output: String
    @Option(help: "Where converted inputs go (default INBOX/.done).") var done: String?
    @Option(help: "Where inputs that failed go, with NAME.error.json (default INBOX/.failed).") var failed: String?
    @Flag(name: .customLong("delete-inputs"), help: "Delete inputs once converted instead of moving them to --done.") var deleteInputs = false
    @Option(help: "Seconds a file must stay unchanged before it is taken.") var settle: Double = 2
    @Option(help: "Poll every SECONDS instead of using inotify (NFS, SMB, Docker Desktop mounts).") var poll: Double?
    @Option(help: "Seconds between full rescans that catch missed events.") var rescan: Double = 10
    @Option(help: "Seconds to finish files in flight after SIGTERM/SIGINT.") var grace: Double = 60
    @Option(name: .customLong("log-format"), help: "text or json: one line per file.") var logFormat: String = "text"
    @Option(name: .customLong("status-port"), help: "Serve /healthz and Prometheus /metrics on this port (0: a free one, logged).") var statusPort: UInt16?
    @Option(name: .customLong("status-address"), help: "Address or host name for --status-port (all its addresses; 0.0.0.0 for every interface; default 127.0.0.1).") var statusAddress: String?
    @Option(help: "A file touched every 2 s while the service runs (for container health checks).") var heartbeat: String?
    @OptionGroup var conversion: ConversionOptions

    func validate() throws {
        // A day at most: NaN passes every comparison (--settle nan hung the shutdown), and an
        // infinite settle never takes a file.
        let day = 86_400.0
        for (name, value, zero) in [("--settle", settle, true), ("--rescan", rescan, false), ("--grace", grace, true), ("--poll", poll ?? 1, false)] {
            guard value.isFinite, value <= day, zero ? value >= 0 : value > 0 else {
                throw ValidationError("\(name) must be a number of seconds \(zero ? "from 0" : "above 0") up to 86400 (a day), got \(value)")
            }
        }
        if !["text", "json"].contains(logFormat) { throw ValidationError("--log-format must be text or json") }
        if deleteInputs && done != nil { throw ValidationError("--delete-inputs and --done contradict each other") }
        // Refused rather than ignored: without a port no server starts, and nothing would say so.
        if statusAddress != nil && statusPort == nil { throw ValidationError("--status-address needs --status-port (the port to serve on; 0 for a free one)") }
    }

    func run() throws {
        // Catch SIGTERM/SIGINT from the first moment: a stop during start-up must still end cleanly.
        let stop = StopRequest()
        let signals = SignalWatcher { stop.request() }
        let definition = try conversion.definition()
        let generator = try conversion.loadGenerator(try conversion.source(definition))
        var config = WatchConfiguration(layout: InboxLayout(
            inbox: URL(fileURLWithPath: inbox), outbox: URL(fileURLWithPath: output),
            done: done.map { URL(fileURLWithPath: $0) }, failed: failed.map { URL(fileURLWithPath: $0) }))
        config.convert = try conversion.plan(definition, flags: try conversion.flags(), for: generator)
        config.settle = settle
        config.poll = poll
        config.rescan = rescan
        config.grace = grace
        config.deleteInputs = deleteInputs
        config.jsonLogs = logFormat == "json"
        config.heartbeat = heartbeat.map { URL(fileURLWithPath: $0) }
        guard FileManager.default.fileExists(atPath: inbox) else { throw fail("\(inbox): inbox folder not found", code: 64) }
        let registry = PrometheusCollectorRegistry()
        let service: WatchService
        do {
            service = try WatchService(generator: generator, configuration: config,
                                       makeBackend: { try config.convert.makeBackend() },
                                       metricsFactory: StatusServer.metricsFactory(registry))
        } catch let e as PipelineError where e.code == .invalidDefinition {
            throw fail(e.message, code: 64)
        }
        let server = try statusPort.map { port in
            do {
                return try StatusServer(host: statusAddress ?? "127.0.0.1", port: Int(port), registry: registry, metrics: service.metrics)
            } catch { throw fail("\(error)", code: 64) }
        }
        for address in server?.addresses ?? [] { service.log(["event": "status", "address": address]) }
        stop.onRequest { service.stop() }
        let unfinished: Int
        do { unfinished = try service.run() } catch { server?.shutdown(); throw fail("\(error)") }
        server?.shutdown()
        withExtendedLifetime(signals) {}
        if unfinished > 0 { warn("\(unfinished) files were still converting when the grace period ended; the next start finishes them") }
    }
}

/// A stop request that may arrive before the service it is meant for exists.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var action: (@Sendable () -> Void)?

    func request() {
        let a: (@Sendable () -> Void)? = lock.withLock { requested = true; return action }
        a?()
    }

    /// Runs `action` on the next request, or now if one already came.
    func onRequest(_ action: @escaping @Sendable () -> Void) {
        let already: Bool = lock.withLock { self.action = action; return requested }
        if already { action() }
    }
}
