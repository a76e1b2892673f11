import Foundation
import Testing
import TestSupport

/// The status port listens where it was told and nowhere else, and a bad address stops the
/// start with one clear line. Ports come from the OS (`--status-port 0`, logged).
extension WatchCommandTests {
    static let hasIPv6Loopback: Bool = {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
        }
    }()

    /// `reachable` answers; `elsewhere`, another loopback address of this machine, must not
    /// (binding 0.0.0.0 or :: would answer there too).
    @Test(arguments: [("127.0.0.1", "127.0.0.1", "127.0.0.2"), ("localhost", "127.0.0.1", "127.0.0.2")])
    func statusPortListensOnlyOnTheAddressAsked(_ address: String, _ reachable: String, _ elsewhere: String) throws {
        try checkStatusAddress(address, reachable: reachable, elsewhere: elsewhere)
    }

    @Test(.enabled(if: hasIPv6Loopback, "skipped: no IPv6 loopback (::1) on this machine"))
    func statusPortOnIPv6Loopback() throws {
        try checkStatusAddress("::1", reachable: "::1", elsewhere: "127.0.0.1")
    }

    private func checkStatusAddress(_ address: String, reachable: String, elsewhere: String) throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/one.png", TestImages.png(width: 16, height: 16))
        let s = try Service(dir.path("in"), dir.path("out"), ["--status-port", "0", "--status-address", address],
                            log: dir.url.appendingPathComponent("log"))
        let port = try #require(Self.statusPort(s), "no status port in the log:\n\(s.text)")
        #expect(Self.waitUntil(30) { Self.files(dir.path("out")) == ["one.png"] }, "\(s.text)")
        #expect(httpGet(host: reachable, port: port, path: "/healthz") == "ok\n")
        #expect(httpGet(host: elsewhere, port: port, path: "/healthz") == nil, "--status-address \(address) also answers on \(elsewhere)")
        let metrics = httpGet(host: reachable, port: port, path: "/metrics") ?? ""
        for line in ["# TYPE gantry_files_processed_total counter", "gantry_files_processed_total 1", "gantry_files_failed_total 0",
                     "# TYPE gantry_queue_depth gauge", "# TYPE gantry_files_in_flight gauge",
                     "# TYPE gantry_conversion_seconds histogram", "gantry_conversion_seconds_count 1"] {
            #expect(metrics.contains(line + "\n"), "missing '\(line)' in:\n\(metrics)")
        }
        #expect(httpGet(host: reachable, port: port, path: "/nothing")?.contains("/healthz") == true)
        #expect(s.terminate() == 0)
    }

    /// A name that resolves to nothing and a port that is taken: exit non-zero before taking any
    /// file, with one line that says what to change.
    @Test func unusableStatusAddressStopsTheStart() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/one.png", TestImages.png(width: 16, height: 16))
        let taken = try OccupiedPort()
        let cases: [([String], String)] = [
            (["--status-port", "0", "--status-address", "::zz"], "--status-address '::zz': not an IP address"),
            (["--status-port", String(taken.port), "--status-address", "127.0.0.1"], "cannot listen on 127.0.0.1:\(taken.port)"),
        ]
        for (i, (args, expected)) in cases.enumerated() {
            let s = try Service(dir.path("in"), dir.path("out"), args, log: dir.url.appendingPathComponent("log\(i)"))
            #expect(s.exits(within: 60), "\(args) did not stop the start:\n\(s.text)")
            #expect(s.process.terminationStatus != 0)
            let errors = s.text.split(separator: "\n").filter { $0.contains("error") }
            #expect(errors.count == 1 && errors.first?.hasPrefix("gantry: error: \(expected)") == true, "\(args):\n\(s.text)")
            #expect(!s.text.contains(" started "))
        }
        #expect(FileManager.default.fileExists(atPath: dir.path("in/one.png")), "a file was taken by a service that could not start")
    }

    /// An address without a port is refused (it used to start no server and say nothing).
    @Test func statusAddressNeedsAPort() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/one.png", TestImages.png(width: 16, height: 16))
        let r = try runGantry(["watch", dir.path("in"), "-o", dir.path("out"), "-m", "unused.pth", "--status-address", "127.0.0.1"])
        #expect(r.status == 64 && r.stderr.contains("--status-address needs --status-port"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path("in/one.png")))
    }
}
