import Foundation
import Testing
import TestSupport

/// `gantry inspect RUN` on run folders the Trainer wrote, and on broken copies of their files.
struct RunInspectCommandTests {
    @Test func inspectSummarisesARun() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.pix2pix(in: dir)
        let r = try runGantry(["inspect", run])
        #expect(r.status == 0, "\(r.stderr)")
        for expected in ["model:        pix2pix, direction AtoB", "data:         \(dir.path("p2p-data"))",
                         "epochs done:  2 of epochs 1…2 (state.json)", "iterations:   4", "saved epochs: latest, 1, 2",
                         "last losses:  epoch 2 iter 2, lr 0.002: G_GAN ", "D_fake ", "G    unet_128 ngf=4 norm=batch",
                         "parameters (latest_net_G.pth)", "D    NLayerDiscriminator (basic)", "net-g unet_128", "lambda-l1 100.0",
                         "interrupted:  no", "BatchNorm uses each image's own statistics"] {
            #expect(r.stdout.contains(expected), "\(expected) in:\n\(r.stdout)")
        }
        // Without state.json (a folder PyTorch wrote, or an older run) the log says how far it got.
        try FileManager.default.removeItem(atPath: "\(run)/state.json")
        let noState = try runGantry(["inspect", run])
        for expected in ["epochs done:  2 of epochs 1…2 (the last epoch in losses.jsonl", "interrupted:  not recorded"] {
            #expect(noState.stdout.contains(expected), "\(expected) in:\n\(noState.stdout)")
        }
        // state.json's three keys, when there, win over the log; anything else in it is not read.
        try dir.write("runs/p2p/state.json", #"{"epochs_done": 1, "interrupted": true, "iterations": 3, "order": [1, 0]}"#)
        let j = try runGantry(["inspect", "--json", run])
        #expect(j.status == 0, "\(j.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        #expect(obj["kind"] as? String == "run" && obj["model"] as? String == "pix2pix")
        #expect(obj["epochsDone"] as? Int == 1 && obj["epochsDoneSource"] as? String == "state.json")
        #expect(obj["interrupted"] as? Bool == true && obj["iterations"] as? Int == 3)
        let networks = try #require(obj["networks"] as? [[String: Any]])
        #expect(networks.map { $0["name"] as? String } == ["G", "D"])
        #expect(networks.allSatisfy { ($0["parameters"] as? Int ?? 0) > 0 })
        #expect((networks[0]["savedEpochs"] as? [Int]) == [1, 2])
        let last = try #require(obj["lastIteration"] as? [String: Any])
        #expect((last["losses"] as? [[String: Any]])?.map { $0["name"] as? String } == ["G_GAN", "G_L1", "D_real", "D_fake"])
    }

    @Test func inspectRefusesBrokenRunFilesWithOneLine() throws {
        let dir = try TemporaryDirectory()
        let run = try TrainedRunFixtures.cyclegan(in: dir)
        let original = try String(contentsOfFile: "\(run)/config.yaml", encoding: .utf8)
        for (file, contents, expected) in [
            ("state.json", "{\"epochs_done\": \"two\"}", "state.json: 'epochs_done' must be a whole number"),
            ("state.json", "[]", "state.json: not a JSON object"),
            ("losses.jsonl", "{\"epoch\":1,\"iter\":1}\nnot json\n", "losses.jsonl: last line: not a losses.jsonl record"),
            ("losses.jsonl", String(repeating: "x", count: 70_000), "losses.jsonl: no line break in its last 64 KB"),
            ("latest_net_G_B.pth", "not a checkpoint", "latest_net_G_B.pth"),
            ("latest_net_D_A.pth", "PK", "latest_net_D_A.pth"),
            ("config.yaml", "model: [1\n", "config.yaml: not valid YAML"),
            ("config.yaml", "model: munit\n", "config.yaml: model 'munit' is not pix2pix, cyclegan, stargan or dcgan"),
            ("config.yaml", "model: stargan\n", "config.yaml: a stargan run without 'domains'"),
            ("config.yaml", original.replacingOccurrences(of: "norm: instance", with: "norm: batch"),
             "latest_net_G_A.pth does not fit the run's config.yaml (G_A: resnet_6blocks ngf=4 norm=batch"),
        ] {
            let url = URL(fileURLWithPath: "\(run)/\(file)")
            let saved = try? Data(contentsOf: url)
            try dir.write("runs/cg/\(file)", contents)
            let r = try runGantry(["inspect", run])
            #expect(r.status == 1, "\(file): \(r.stdout)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(expected), "\(file): \(r.stderr)")
            if let saved { try saved.write(to: url) } else { try FileManager.default.removeItem(at: url) }
        }
        #expect(try runGantry(["inspect", run]).status == 0)
        let plain = try runGantry(["inspect", dir.path("cg-data")])
        #expect(plain.status == 1 && plain.stderr.contains("not a run folder"))
    }
}
