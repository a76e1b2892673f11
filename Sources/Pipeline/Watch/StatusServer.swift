import Foundation

/// A minimal HTTP/1.0 server on 127.0.0.1 for `/healthz` and `/metrics`: enough for a
/// Kubernetes probe or a Prometheus scrape, with no server framework to build.
public final class StatusServer: @unchecked Sendable {
    private let fd: Int32
    private let metrics: WatchMetrics

    /// Binds `port` on `address` (default loopback); throws if the port is taken.
    public init(port: UInt16, address: String = "127.0.0.1", metrics: WatchMetrics) throws {
        self.metrics = metrics
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw PipelineError(.listenFailed, "cannot listen on \(address):\(port) (\(reason))")
        }
        let thread = Thread { [self] in serve() }
        thread.name = "gantry-status"
        thread.start()
    }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { if errno == EINTR { continue }; return }
            var buffer = [UInt8](repeating: 0, count: 2048)
            let n = read(client, &buffer, buffer.count)
            let request = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
            let path = request.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            let (status, body): (String, String)
            switch path {
            case "/healthz":
                // Healthy while the main loop keeps beating.
                let age = metrics.secondsSinceHeartbeat
                (status, body) = age < 15 ? ("200 OK", "ok\n") : ("503 Service Unavailable", "main loop stalled for \(Int(age)) s\n")
            case "/metrics":
                (status, body) = ("200 OK", metrics.exposition())
            default:
                (status, body) = ("404 Not Found", "try /healthz or /metrics\n")
            }
            let response = "HTTP/1.0 \(status)\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            _ = response.withCString { write(client, $0, strlen($0)) }
            close(client)
        }
    }
}
