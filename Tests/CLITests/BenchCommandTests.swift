import Foundation
import Testing
import TestSupport

/// `gantry bench --peer`: the peer runner's JSON lines become rows and a summary against the
/// fastest and the leanest engine; an engine that fails does not hide the others. The peer
/// script here is a stand-in that prints fixed rows (the real one needs torch and the engines).
struct BenchCommandTests {
    static let fakePeer = """
        import json, sys
        args = sys.argv[1:]
        size = args[args.index('--sizes') + 1]; w, h = map(int, size.split('x'))
        net = args[args.index('--nets') + 1]
        for engine, median, rss in [('torch', 40.0, 900.0), ('ncnn', 20.0, 300.0)]:
            print(json.dumps(dict(engine=engine, engine_version='test', net=net, width=w, height=h, threads=1,
                                  runs=1, median_s=median, min_s=median, max_s=median, gflop=1.0, peak_rss_mb=rss,
                                  max_abs_diff_vs_torch=0.0)))
        print('engine openvino failed: simulated', file=sys.stderr)
        sys.exit(1)
        """

    @Test func peersAreComparedAndAFailingOneDoesNotHideTheRest() throws {
        let dir = try TemporaryDirectory()
        let script = dir.url.appendingPathComponent("peer.py")
        try Self.fakePeer.write(to: script, atomically: true, encoding: .utf8)
        let r = try runGantry(["bench", "--nets", "resnet_6blocks", "--sizes", "64x64", "--runs", "1", "--warmup", "0",
                               "--threads", "1", "--peer", "/usr/bin/python3", "--peer-script", script.path,
                               "--peer-engines", "torch,ncnn,openvino"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("CPU: ") == true, "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("torch ") && $0.contains("median 40.000 s") }, "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("ncnn ") && $0.contains("median 20.000 s") }, "\(r.stdout)")
        // Gantry's 64×64 pass takes well under a second, so it is ≫ 1× a 20 s peer; the summary
        // names the fastest (ncnn) and the leanest (ncnn, 300 MB) peers and PyTorch's ratio.
        let summary = try #require(lines.first { $0.contains("the fastest peer's throughput") }, "\(r.stdout)")
        #expect(summary.contains("(ncnn)"))
        #expect(summary.contains("PyTorch's"))
        #expect(summary.contains("lowest peer's 300 MB (ncnn)"))
        let ratio = try #require(summary.split(separator: ":").last?.split(separator: "×").first
            .flatMap { Double($0.trimmingCharacters(in: .whitespaces)) })
        #expect(ratio > 1)
    }

    /// `--path autograd` runs the same network through training's forwards and says so; both
    /// paths count the same convolution work.
    @Test func autogradPathMeasuresTheTrainingForwards() throws {
        var gflop: [String: Double] = [:]
        for path in ["inference", "autograd"] {
            let r = try runGantry(["bench", "--nets", "unet_128", "--sizes", "128x128", "--runs", "1", "--warmup", "0",
                                   "--threads", "1", "--json", "--in-process", "--path", path])
            #expect(r.status == 0, "\(r.stderr)")
            let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("{") })
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(((row["detail"] as? String) ?? "").contains("through autograd") == (path == "autograd"), "\(row)")
            gflop[path] = row["gflop"] as? Double
        }
        #expect(gflop["inference"] != nil && gflop["inference"] == gflop["autograd"], "\(gflop)")
    }
}
