import Foundation
import NIOCore
import Pipeline

/// Turns `--status-address` into the socket addresses to listen on.
enum StatusAddress {
    /// Every address `name` stands for (`localhost` is often both 127.0.0.1 and ::1), with `port`.
    /// IP literals are taken as they are; a name goes through the system resolver (`/etc/hosts`,
    /// then DNS). Throws a `PipelineError` saying what to pass instead when nothing comes back.
    static func resolve(_ name: String, port: Int) throws -> [SocketAddress] {
        var host = name
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw notFound(name, "it is empty") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        // A colon only appears in IPv6 literals: never send such a string to DNS.
        if host.contains(":") { hints.ai_flags = AI_NUMERICHOST }
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &list)
        guard rc == 0, let first = list else { throw notFound(name, String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(first) }
        var out: [SocketAddress] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let ai = next?.pointee {
            next = ai.ai_next
            guard let raw = ai.ai_addr else { continue }
            var address: SocketAddress
            switch ai.ai_family {
            case AF_INET: address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            case AF_INET6: address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            default: continue
            }
            address.port = port
            if !out.contains(where: { $0.ipAddress == address.ipAddress }) { out.append(address) }
        }
        guard !out.isEmpty else { throw notFound(name, "no IPv4 or IPv6 address") }
        return out
    }

    private static func notFound(_ name: String, _ why: String) -> PipelineError {
        PipelineError(.addressNotFound, "--status-address '\(name)': not an IP address or a host name this machine can resolve (\(why)); pass e.g. 127.0.0.1, ::1, localhost or 0.0.0.0")
    }
}

extension SocketAddress {
    /// `127.0.0.1:9464`, `[::1]:9464`: how people write it.
    var display: String {
        let ip = ipAddress ?? "?"
        let port = port.map(String.init) ?? "?"
        if case .v6 = self { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }
}
