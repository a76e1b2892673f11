import CoreMetrics
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Pipeline
import Prometheus

/// `/healthz` and Prometheus `/metrics` of `gantry watch` over HTTP/1.1 (SwiftNIO), enough for a
/// Kubernetes probe or a Prometheus scrape.
///
/// It lives outside `Pipeline` so that the library, and everything else that links it, does not
/// carry SwiftNIO: only the `gantry` executable does.
public final class StatusServer: Sendable {
    /// Where it listens, with the port the OS chose when 0 was asked for.
    public let addresses: [String]
    private let group: MultiThreadedEventLoopGroup
    private let channels: [any Channel]

    /// A factory whose metrics `/metrics` shows, with the watch service's histogram buckets.
    public static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> any MetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[WatchMetrics.conversionTimeLabel] =
            WatchMetrics.conversionTimeBuckets.map { Duration.nanoseconds(Int64($0 * 1e9)) }
        return factory
    }

    /// Listens on every address `host` resolves to (an IP literal, `localhost`, a host name), all
    /// on one port; port 0 takes a free one from the OS. Throws a `PipelineError` (one line, with
    /// what to change) when the name does not resolve or an address cannot be bound.
    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, metrics: WatchMetrics) throws {
        var targets = try StatusAddress.resolve(host, port: port)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(StatusHandler(registry: registry, metrics: metrics))
                }
            }
        var bound: [any Channel] = []
        for i in targets.indices {
            // Port 0 on several addresses: all of them on the port the first one got.
            if port == 0, i > 0, let first = bound.first?.localAddress?.port { targets[i].port = first }
            do {
                bound.append(try bootstrap.bind(to: targets[i]).wait())
            } catch let error as IOError where i > 0 && [EADDRNOTAVAIL, EAFNOSUPPORT].contains(error.errnoCode) {
                // A second address of the name that this machine lacks (::1 with IPv6 off).
                continue
            } catch {
                for channel in bound { try? channel.close().wait() }
                try? group.syncShutdownGracefully()
                let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
                throw PipelineError(.listenFailed, "cannot listen on \(targets[i].display) (\(reason)); choose another --status-port or --status-address")
            }
        }
        channels = bound
        addresses = bound.compactMap { $0.localAddress?.display }
    }

    /// Stops listening and ends the server's thread.
    public func shutdown() {
        for channel in channels { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
    }
}

/// Answers one request at a time on a connection (the HTTP pipeline handler queues pipelined ones).
private final class StatusHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let metrics: WatchMetrics
    private var request: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry, metrics: WatchMetrics) {
        self.registry = registry
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let (status, contentType, body) = answer(head)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive {
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        let text = "text/plain; charset=utf-8"
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, text, Array("use GET\n".utf8))
        }
        switch head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/" {
        case "/healthz":
            // Healthy while the main loop keeps beating. During a transient fault the service
            // is alive and holding files (a restart would not help): 200, "degraded" and why.
            let age = metrics.secondsSinceHeartbeat
            guard age < 15 else { return (.serviceUnavailable, text, Array("main loop stalled for \(Int(age)) s\n".utf8)) }
            if let fault = metrics.faultReason { return (.ok, text, Array("degraded: \(fault); files held and retried\n".utf8)) }
            return (.ok, text, Array("ok\n".utf8))
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToBuffer())
        default:
            return (.notFound, text, Array("try /healthz or /metrics\n".utf8))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
