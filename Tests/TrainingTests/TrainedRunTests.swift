import Foundation
import Models
import Runs
import TestSupport
import Testing
import Training

/// Reading run folders back without training: config.yaml in either spelling, the generator a
/// request picks, and a long loss log read from its end.
struct TrainedRunTests {
    /// A run folder with `config` and empty files named `files`.
    func folder(_ config: String, files: [String] = []) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        try dir.write("config.yaml", config)
        for f in files { try dir.write(f, "") }
        return dir
    }

    @Test func configInEitherSpellingGivesTheTrainedArchitectures() throws {
        let kebab = try folder("model: cyclegan\nnet-g: resnet_6blocks\nngf: 8\nnorm: batch\nno-dropout: \"false\"\ninput-nc: 1\noutput-nc: 3\n",
                               files: ["latest_net_G_A.pth"])
        let reference = try folder("model: cyclegan\nnetG: resnet_6blocks\nngf: 8\nnorm: batch\nno_dropout: false\ninput_nc: 1\noutput_nc: 3\nnew_option: 1\n",
                                   files: ["latest_net_G_A.pth"])
        for dir in [kebab, reference] {
            #expect(TrainedRun.isRunFolder(dir.url))
            let run = try TrainedRun(dir.url)
            #expect(try run.generatorArchitecture("G_A") == .resnet(blocks: 6, ngf: 8, norm: .batch, dropout: true, inputChannels: 1, outputChannels: 3))
            #expect(try run.generatorArchitecture("G_B") == .resnet(blocks: 6, ngf: 8, norm: .batch, dropout: true, inputChannels: 3, outputChannels: 1))
            #expect(try run.discriminatorArchitecture("D_A").inputChannels == 3)
            #expect(try run.discriminatorArchitecture("D_B").inputChannels == 1)
        }
        #expect(try TrainedRun(reference.url).unknownKeys == ["new_option"])
        // Keys a config leaves out take the recipe's defaults, as in training.
        let sparseDir = try folder("model: pix2pix\n", files: ["latest_net_G.pth"])
        let sparse = try TrainedRun(sparseDir.url)
        #expect(try sparse.generatorArchitecture("G") == .unet(downs: 8, ngf: 64, norm: .batch, dropout: true))
    }

    @Test func recognisesRunFoldersAndCheckpointNames() throws {
        // Each folder is held while checked: a TemporaryDirectory is removed when released.
        let bare = try folder("model: pix2pix\n"), logged = try folder("model: pix2pix\n", files: ["losses.jsonl"])
        let saved = try folder("model: pix2pix\n", files: ["15_net_G.pth"])
        #expect(!TrainedRun.isRunFolder(bare.url))
        #expect(TrainedRun.isRunFolder(logged.url))
        #expect(TrainedRun.isRunFolder(saved.url))
        func parsed(_ name: String) -> String? { RunFolder.parseCheckpointName(name).map { "\($0.epoch) \($0.name)" } }
        #expect(parsed("latest_net_G_B.pth") == "latest G_B")
        #expect(parsed("150_net_D.pth") == "150 D")
        for name in ["latest_net_G.safetensors", "best_net_G.pth", "-1_net_G.pth", "latest_net_.pth", "net_G.pth"] {
            #expect(parsed(name) == nil, "\(name)")
        }
    }

    @Test func requestsPickTheReferenceFile() throws {
        let dir = try folder("model: cyclegan\ndirection: BtoA\n", files: ["latest_net_G_A.pth", "latest_net_G_B.pth", "5_net_G_B.pth"])
        func pick(_ r: GeneratorRequest) throws -> String { try GeneratorSource.resolve(dir.url, r).url.lastPathComponent }
        #expect(try pick(.init()) == "latest_net_G_A.pth")
        // Trained BtoA: G_A translates BtoA, so asking for AtoB takes G_B.
        #expect(try pick(.init(direction: .bToA)) == "latest_net_G_A.pth")
        #expect(try pick(.init(direction: .aToB)) == "latest_net_G_B.pth")
        #expect(try pick(.init(which: "G_B", epoch: "5")) == "5_net_G_B.pth")
        #expect(throws: TrainingError.self) { try pick(.init(which: "G_A", epoch: "5")) }
        #expect(throws: TrainingError.self) { try pick(.init(epoch: "five")) }
        let source = try GeneratorSource.resolve(dir.url, .init(which: "G_B"))
        #expect(source.architecture?.family == .resnet && source.network == "G_B")
        #expect(try source.overrides(.init(norm: .instance)).norm == .instance)
        #expect(throws: TrainingError.self) { try source.overrides(.init(norm: .batch)) }
    }

    @Test func progressReadsTheEndOfALongLog() throws {
        let dir = try folder("model: pix2pix\n")
        var text = ""
        for i in 0..<4000 {
            text += LossRecord(epoch: 1 + i / 100, iter: 1 + i % 100, lr: 2e-4, losses: [("G_GAN", Double(i)), ("G_L1", .nan)], seconds: 0.5).jsonLine + "\n"
        }
        try dir.write("losses.jsonl", text + "{\"epoch\":41,\"it")  // a torn last line is skipped
        #expect(text.utf8.count > 2 * (64 << 10))
        let progress = try RunProgress(RunFolder(dir.url.path))
        #expect(progress.lastRecord?.epoch == 40 && progress.lastRecord?.iter == 100)
        #expect(progress.lastRecord?.losses.first?.value == 3999)
        #expect(progress.epochsDone == 40 && progress.epochsDoneSource == "losses.jsonl")
        #expect(progress.interrupted == nil && progress.iterations == nil)
        try dir.write("state.json", #"{"epochs_done": 39, "interrupted": false, "iterations": 3950, "format": 9, "order": null}"#)
        let stated = try RunProgress(RunFolder(dir.url.path))
        #expect(stated.epochsDone == 39 && stated.epochsDoneSource == "state.json")
        #expect(stated.interrupted == false && stated.iterations == 3950)
    }
}
