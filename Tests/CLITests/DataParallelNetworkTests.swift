import Foundation
import Testing
import TestSupport

/// Two ranks on two "hosts": network namespaces joined by a veth pair, mpirun reaching the second
/// through an rsh agent that runs `ip netns exec`, and Open MPI told to use TCP only — so the
/// gradients, BatchNorm sums and status really cross a TCP network. The same training as one rank.
struct DataParallelNetworkTests {
    /// Runs `ip` with `arguments`; nil when it cannot (not root, no iproute2, no permission).
    @discardableResult
    static func ip(_ arguments: [String]) -> CommandResult? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else { return nil }
        return try? runCommand(URL(fileURLWithPath: "/usr/sbin/ip"), arguments)
    }

    @Test func twoRanksInTwoNetworkNamespacesTrainWhatOneRankTrains() throws {
        let tag = String(UInt32(getpid()) % 100_000)
        let (a, b, va, vb) = ("gtA\(tag)", "gtB\(tag)", "gva\(tag)", "gvb\(tag)")
        guard let created = Self.ip(["netns", "add", a]), created.status == 0 else {
            print("SKIPPED two ranks over a veth pair: cannot create a network namespace here (needs root and iproute2): \(Self.ip(["netns", "add", a])?.stderr ?? "no /usr/sbin/ip")")
            #expect(ProcessInfo.processInfo.environment["CI"] == nil || getuid() != 0, "CI runs as root: network namespaces must work")
            return
        }
        defer {
            Self.ip(["netns", "del", a])
            Self.ip(["netns", "del", b])
        }
        let setup: [[String]] = [
            ["netns", "add", b], ["link", "add", va, "type", "veth", "peer", "name", vb],
            ["link", "set", va, "netns", a], ["link", "set", vb, "netns", b],
            ["-n", a, "addr", "add", "10.77.0.1/24", "dev", va], ["-n", b, "addr", "add", "10.77.0.2/24", "dev", vb],
            ["-n", a, "link", "set", va, "up"], ["-n", b, "link", "set", vb, "up"],
            ["-n", a, "link", "set", "lo", "up"], ["-n", b, "link", "set", "lo", "up"],
        ]
        for step in setup {
            let r = try #require(Self.ip(step))
            #expect(r.status == 0, "ip \(step.joined(separator: " ")): \(r.stderr)")
            guard r.status == 0 else { return }
        }
        guard let mpirun = DistributedCommandTests.mpirun(for: "two network namespaces") else { return }
        let dir = try TemporaryDirectory()
        for i in 0..<4 { try dir.write("pairs/train/\(i).png", try TestImages.png(width: 64, height: 32, seed: i)) }
        // mpirun's rsh agent: "agent HOST command…" runs the command in HOST's namespace.
        try dir.write("agent.sh", "#!/bin/sh\nhost=$1; shift\ncase $host in 10.77.0.1) ns=\(a);; 10.77.0.2) ns=\(b);; *) exit 1;; esac\nexec /usr/sbin/ip netns exec $ns sh -c \"$*\"\n")
        chmod(dir.path("agent.sh"), 0o755)
        func train(_ run: String) -> [String] {
            [gantryExecutable.path, "train", "pix2pix", "--data", dir.path("pairs"), "--run", dir.path(run), "--net-g", "unet_128",
             "--ngf", "4", "--ndf", "4", "--load-size", "128", "--crop-size", "128", "--n-epochs", "1", "--n-epochs-decay", "1",
             "--batch-size", "2", "--seed", "3", "--threads", "1"]
        }
        let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]
        let tcp = ["--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "10.77.0.0/24", "--mca", "oob_tcp_if_include", "10.77.0.0/24"]
        let two = try runCommand(URL(fileURLWithPath: "/usr/sbin/ip"),
                                 ["netns", "exec", a, mpirun.path, "-np", "2", "--host", "10.77.0.1,10.77.0.2", "--mca", "plm_rsh_agent", dir.path("agent.sh")]
                                 + tcp + ["--bind-to", "none"] + train("two"), environment: environment)
        #expect(two.status == 0, "\(two.stderr)")
        let one = try runCommand(mpirun, ["-np", "1", "--bind-to", "none"] + train("one"), environment: environment)
        #expect(one.status == 0, "\(one.stderr)")
        guard one.status == 0, two.status == 0 else { return }
        #expect(try DataParallelCommandTests().largestLossDifference(dir.path("one"), dir.path("two")) < 1e-4)
    }
}
