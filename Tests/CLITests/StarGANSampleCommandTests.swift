import Foundation
import Testing
import TestSupport

/// `gantry sample` on a StarGAN run: the solver's test mode into a folder, which it does not
/// overwrite unless asked.
struct StarGANSampleCommandTests {
    @Test func testModeWritesResultFilesAndKeepsExistingOnes() throws {
        let dir = try TemporaryDirectory()
        for (domain, seeds) in [("calm", 0..<3), ("storm", 3..<5)] {
            for s in seeds { try dir.write("data/\(domain)/\(s).png", TestImages.png(width: 20, height: 20, seed: s)) }
        }
        let train = try runGantry(["train", "stargan", "--data", dir.path("data"), "--run", dir.path("run"), "--crop-size", "16",
                                   "--image-size", "16", "--ngf", "4", "--ndf", "4", "--g-repeat-num", "1", "--d-repeat-num", "2",
                                   "--batch-size", "2", "--num-iters", "2", "--num-iters-decay", "0", "--model-save-step", "2",
                                   "--sample-step", "2"])
        #expect(train.status == 0, "\(train.stderr)")
        // inspect says how to size photos as training did and how to run the test mode.
        let inspect = try runGantry(["inspect", dir.path("run")])
        #expect(inspect.stdout.contains("--preprocess centre-crop --crop-size 16 --load-size 16")
                && inspect.stdout.contains("gantry sample -m RUN -o RUN/results (every image of --data)")
                && inspect.stdout.contains("each image's own statistics"), "\(inspect.stdout)")
        let first = try runGantry(["sample", "-m", dir.path("run"), "-o", dir.path("results")])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("on 5 images into 2 domains"), "\(first.stdout)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path("results")).sorted()
        #expect(files == ["1-images.png", "2-images.png", "3-images.png"])
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.path("results/1-images.png")))
        let again = try runGantry(["sample", "-m", dir.path("run"), "-o", dir.path("results")])
        #expect(again.status == 64 && again.stderr.contains("--overwrite"), "\(again.stderr)")
        let replaced = try runGantry(["sample", "-m", dir.path("run"), "-o", dir.path("results"), "--overwrite", "--epoch", "2"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("results/1-images.png"))) == before)
        let missing = try runGantry(["sample", "-m", dir.path("run"), "-o", dir.path("other"), "--epoch", "7"])
        #expect(missing.status != 0 && missing.stderr.contains("7-G.ckpt does not exist"), "\(missing.stderr)")
    }
}
