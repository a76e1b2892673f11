import Foundation
import Imaging
import Testing
import TestSupport

/// `gantry train` through the real binary: a reference-spelled command line trains and writes
/// its run folder; bad input gets one line naming it and exit 1.
struct TrainCommandTests {
    @Test func referenceSpelledCommandTrainsPix2pix() throws {
        let dir = try TemporaryDirectory()
        for i in 0..<2 { try dir.write("facades/train/\(i).png", try TestImages.png(width: 256, height: 128, seed: i)) }
        try dir.write("config.yaml", "ngf: 4\nndf: 4\n")
        let r = try runGantry(["train", "pix2pix", "--dataroot", dir.path("facades"), "--run", dir.path("runs/facades"),
                               "--netG", "unet_128", "--config", dir.path("config.yaml"), "--preprocess", "crop",
                               "--load_size", "128", "--crop_size=128", "--n_epochs", "1", "--n_epochs_decay", "0",
                               "--direction", "BtoA", "--no_flip"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("epoch 1/1") && r.stdout.contains("finished"), "\(r.stdout)\n\(r.stderr)")
        for f in ["config.yaml", "losses.jsonl", "latest_net_G.pth", "latest_net_D.pth", "samples/epoch_001.png", "loss_curves.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir.path("runs/facades/\(f)")), "\(f)")
        }
        let config = try String(contentsOfFile: dir.path("runs/facades/config.yaml"), encoding: .utf8)
        #expect(config.contains("net-g: unet_128") && config.contains("ngf: 4") && config.contains("direction: BtoA"))
    }

    @Test func badInputIsOneLineAndExitOne() throws {
        let dir = try TemporaryDirectory()
        try dir.write("data/trainA/a.png", try TestImages.png(width: 64, height: 64, seed: 1))
        try dir.write("data/trainB/b.png", Data("broken".utf8))
        for (arguments, expected) in [
            (["--data", dir.path("data"), "--run", dir.path("r")], "b.png"),
            (["--data", dir.path("data"), "--run", dir.path("r"), "--norm", "group"], "--norm must be one of"),
            (["--data", dir.path("data"), "--bogus", "1"], "unknown option '--bogus'"),
            (["--data", dir.path("data"), "--run", dir.path("r"), "--output-nc", "1"], "--lambda-identity"),
        ] {
            let r = try runGantry(["train", "cyclegan"] + arguments)
            #expect(r.status == 1, "\(arguments)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(expected), "\(r.stderr)")
        }
    }
}
