import Foundation
import Imaging
import Testing
import TestSupport

/// The crafted files of issue 8 through the real CLI: a one-line error naming the file and the
/// reason, exit status 1, and nothing written for them (other inputs are still converted).
struct CrashRegressionCommandTests {
    static let all = (try? CrashFixture.all()) ?? []
    static let models = all.filter { $0.kind == "model" || ($0.kind == "checkpoint" && $0.expect != "notes") }
    static let images = all.filter { $0.kind == "image" }
    static let goodModel = fixturesDirectory.appendingPathComponent("resnet6_instance.pth").path

    func files(under path: String) -> [String] {
        (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).filter {
            var dir: ObjCBool = false
            FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent($0), isDirectory: &dir)
            return !dir.boolValue
        }.sorted()
    }

    /// The error lines gantry printed (progress and summary lines aside).
    func errorLines(_ r: CommandResult) -> [String] {
        r.stderr.split(separator: "\n").map(String.init).filter { $0.contains("error:") || $0.hasPrefix("failed:") }
    }

    @Test(arguments: models)
    func badCheckpointIsOneLineAndExitOne(_ f: CrashFixture) throws {
        let inspect = try runGantry(["inspect", f.url.path])
        #expect(inspect.status == 1, "\(inspect.stderr)")
        let lines = errorLines(inspect)
        #expect(lines.count == 1, "\(inspect.stderr)")
        #expect(lines.first?.contains(f.file) == true && lines.first?.contains(f.contains) == true, "\(inspect.stderr)")

        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 16, height: 16))
        let convert = try runGantry(["convert", dir.path("in"), "-m", f.url.path, "-o", dir.path("out")])
        #expect(convert.status == 1, "\(convert.stderr)")
        #expect(convert.stderr.contains(f.file) && convert.stderr.contains(f.contains), "\(convert.stderr)")
        #expect(files(under: dir.path("out")).isEmpty)
    }

    @Test(arguments: images)
    func badImageFailsAloneAndTheBatchGoesOn(_ f: CrashFixture) throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/good.png", TestImages.png(width: 16, height: 12))
        try dir.write("in/\(f.file)", Data(contentsOf: f.url))
        let r = try runGantry(["convert", dir.path("in"), "-m", Self.goodModel, "-o", dir.path("out")])
        #expect(r.status == 1, "\(r.stderr)")
        let failure = errorLines(r).filter { $0.contains(f.file) }
        #expect(failure.count == 1 && failure.first?.contains(f.contains) == true, "\(r.stderr)")
        #expect(files(under: dir.path("out")) == ["good.png"])
        // --dry-run reads headers only: it must list both and not crash.
        let dry = try runGantry(["convert", dir.path("in"), "-m", Self.goodModel, "-o", dir.path("dry"), "--dry-run"])
        #expect(dry.status == 0 || dry.status == 1, "\(dry.stderr)")
        #expect(dry.stdout.contains("good.png") && (dry.stdout + dry.stderr).contains(f.file))
        #expect(!FileManager.default.fileExists(atPath: dir.path("dry")))
    }

    @Test func nanWeightsFailTheFileWithoutWritingIt() throws {
        let f = try #require(Self.all.first { $0.kind == "convert" })
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 16, height: 16))
        let r = try runGantry(["convert", dir.path("in"), "-m", f.url.path, "-o", dir.path("out")])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(errorLines(r).contains { $0.contains("a.png") && $0.contains(f.contains) }, "\(r.stderr)")
        #expect(files(under: dir.path("out")).isEmpty)
        let inspect = try runGantry(["inspect", f.url.path])
        #expect(inspect.stdout.contains("NaN or infinite"), "inspect warns: \(inspect.stdout)")
    }

    @Test(arguments: ["inf", "1e30G", "nan", "-1G", "0", "9999999T", "12Q"])
    func absurdMemoryLimitsAreUsageErrors(_ limit: String) throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 16, height: 16))
        let r = try runGantry(["convert", dir.path("in"), "-m", Self.goodModel, "-o", dir.path("out"), "--memory-limit", limit])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("--memory-limit"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out")))
    }

    /// A load size is a number anyone can type: beyond a side of 65,500 it is a usage error, and
    /// one that would make an image over the decode limits fails that image with a line saying
    /// so (it used to trap allocating 40 GB). Training refuses such sizes before it starts.
    @Test func absurdLoadSizesAreRefusedNotCrashed() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 30, height: 20))
        let usage = try runGantry(["convert", dir.path("in"), "-m", Self.goodModel, "-o", dir.path("o1"), "--preprocess", "resize",
                                   "--load-size", "100000"])
        #expect(usage.status == 64 && usage.stderr.contains("--load-size must be between 1 and 65500"), "\(usage.stderr)")
        for args in [["--preprocess", "resize", "--load-size", "60000"], ["--preprocess", "centre-crop", "--crop-size", "10", "--load-size", "60000"],
                     ["--preprocess", "scale-width", "--load-size", "20000"]] {
            let r = try runGantry(["convert", dir.path("in"), "-m", Self.goodModel, "-o", dir.path("o2")] + args)
            #expect(r.status == 1 && errorLines(r).contains { $0.contains("a.png") && $0.contains("over the limit") }, "\(args): \(r.stderr)")
            #expect(files(under: dir.path("o2")).isEmpty)
        }
        for i in 0..<2 { try dir.write("data/train/\(i).png", TestImages.png(width: 64, height: 32, seed: i)) }
        let train = try runGantry(["train", "pix2pix", "--data", dir.path("data"), "--run", dir.path("run"), "--load-size", "20000",
                                   "--crop-size", "256"])
        #expect(train.status != 0 && train.stderr.contains("too large an image"), "\(train.stderr)")
        let flag = try runGantry(["train", "stargan", "--data", dir.path("data"), "--run", dir.path("run2"), "--image-size", "70000"])
        #expect(flag.status != 0 && flag.stderr.contains("--image-size must be at most 65500"), "\(flag.stderr)")
        // Thread counts too: OpenMP would fail creating 100,000 of them.
        let threads = try runGantry(["convert", dir.path("in"), "-m", Self.goodModel, "-o", dir.path("o3"), "--threads", "100000"])
        #expect(threads.status == 64 && threads.stderr.contains("--threads must be between 1 and 1024"), "\(threads.stderr)")
        let trainThreads = try runGantry(["train", "pix2pix", "--data", dir.path("data"), "--run", dir.path("run3"), "--threads", "100000"])
        #expect(trainThreads.status != 0 && trainThreads.stderr.contains("at most 1024"), "\(trainThreads.stderr)")
    }

    /// Images too big for the budget run streamed one by one, even inside a batch: `--batch 2`
    /// gives what `--batch 1` gives, and both what the whole image gives (within one level).
    @Test func batchesOfImagesThatNeedStreamingConvert() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<3 { try dir.write("in/t\(i).png", TestImages.png(width: 88, height: 72, seed: i)) }
        // 256M leaves the floor of 64×64 pixels per pass for this model: 88×72 is streamed.
        let common = ["-m", Self.goodModel, "--memory-limit", "256M"]
        let one = try runGantry(["convert", dir.path("in"), "-o", dir.path("one"), "--batch", "1"] + common)
        let two = try runGantry(["convert", dir.path("in"), "-o", dir.path("two"), "--batch", "2",
                                 "--report", dir.path("report.jsonl")] + common)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(two.status == 0, "\(two.stderr)")
        let report = try String(contentsOfFile: dir.path("report.jsonl"), encoding: .utf8)
        #expect(report.split(separator: "\n").filter { $0.contains("\"streamed\":true") }.count == 3, "\(report)")
        let whole = try runGantry(["convert", dir.path("in"), "-o", dir.path("whole"), "-m", Self.goodModel, "--memory-limit", "8G"])
        #expect(whole.status == 0, "\(whole.stderr)")
        for i in 0..<3 {
            let a = try Data(contentsOf: URL(fileURLWithPath: dir.path("one/t\(i).png")))
            let b = try Data(contentsOf: URL(fileURLWithPath: dir.path("two/t\(i).png")))
            #expect(a == b, "t\(i).png differs between --batch 1 and --batch 2")
            let w = try ImageCodec.decode(Data(contentsOf: URL(fileURLWithPath: dir.path("whole/t\(i).png"))), path: "w").samples
            let s = try ImageCodec.decode(a, path: "s").samples
            let worst = zip(w, s).map { abs(Int($0) - Int($1)) }.max() ?? 255
            #expect(w.count == s.count && worst <= 1, "t\(i).png: streamed differs from the whole image by \(worst) levels")
        }
    }
}
