import Foundation

/// GET http://HOST:PORT/PATH with a plain socket (Foundation on Linux has no URL loading
/// without FoundationNetworking). `host` is an IP literal (127.0.0.1, ::1). Returns the body, or
/// nil when nothing answers.
public func httpGet(host: String = "127.0.0.1", port: UInt16, path: String) -> String? {
    var hints = addrinfo()
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &list) == 0, let ai = list else { return nil }
    defer { freeaddrinfo(ai) }
    let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else { return nil }
    let request = "GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n"
    _ = request.withCString { write(fd, $0, strlen($0)) }
    var response = Data()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        response.append(contentsOf: buffer[0..<n])
    }
    let text = String(decoding: response, as: UTF8.self)
    return text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) }
}

/// A listening TCP socket on 127.0.0.1 with a port the OS chose, held until `close()`: a port
/// that is certainly taken.
public final class OccupiedPort {
    public let port: UInt16
    private var fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else {
            Foundation.close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        self.fd = fd
        port = UInt16(bigEndian: addr.sin_port)
    }

    public func close() {
        if fd >= 0 { Foundation.close(fd) }
        fd = -1
    }

    deinit { close() }
}
