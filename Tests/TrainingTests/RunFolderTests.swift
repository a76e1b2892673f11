import Checkpoints
import Engine
import Foundation
import Models
import Runs
import TestSupport
import Testing
import Training

/// Checkpoints in a run folder under the reference's names, saved and loaded back strictly.
struct RunFolderTests {
    func networks(seed: UInt64) throws -> [(name: String, module: Module)] {
        let g = try Generator(.unet(downs: 5, ngf: 2, norm: .batch)), d = try Discriminator(.nLayers(3, ndf: 2, norm: .batch, inputChannels: 6))
        try g.root.initializeWeights(seed: seed)
        try d.root.initializeWeights(seed: seed + 1)
        return [("G", g.root), ("D", d.root)]
    }

    @Test func savesAndLoadsTheReferenceNames() throws {
        let dir = try TemporaryDirectory()
        let run = RunFolder(dir.url.appendingPathComponent("run").path)
        try run.create()
        let saved = try networks(seed: 1)
        try run.saveNetworks(saved, epoch: "latest")
        try run.saveNetworks(saved, epoch: "5")
        try run.saveNetworks(saved, epoch: "10")
        let names = try FileManager.default.contentsOfDirectory(atPath: run.url.path).sorted()
        #expect(names == ["10_net_D.pth", "10_net_D.safetensors", "10_net_G.pth", "10_net_G.safetensors", "5_net_D.pth",
                          "5_net_D.safetensors", "5_net_G.pth", "5_net_G.safetensors", "latest_net_D.pth", "latest_net_D.safetensors",
                          "latest_net_G.pth", "latest_net_G.safetensors"])
        // The safetensors copy holds the same tensors as the .pth.
        let pth = try Checkpoint.load(contentsOf: run.url.appendingPathComponent("5_net_G.pth")).stateDict
        let st = try Checkpoint.load(contentsOf: run.url.appendingPathComponent("5_net_G.safetensors")).stateDict
        #expect(Array(pth.keys) == Array(st.keys) && pth.keys.allSatisfy { pth[$0]!.values == st[$0]!.values })
        #expect(run.savedEpochs(network: "G") == [5, 10])
        let loaded = try networks(seed: 99)
        _ = try run.loadNetworks(loaded, epoch: "5")
        for (a, b) in zip(saved, loaded) {
            #expect(a.module.namedTensors().map { $0.value.values } == b.module.namedTensors().map { $0.value.values })
        }
    }

    @Test func refusesMissingEpochsAndOtherNetworksByName() throws {
        let dir = try TemporaryDirectory()
        let run = RunFolder(dir.url.path)
        try run.saveNetworks(try networks(seed: 1), epoch: "5")
        #expect { try run.loadNetworks(try networks(seed: 2), epoch: "7") } throws: {
            "\($0)".contains("7_net_G.pth does not exist; saved epochs: 5")
        }
        let other = try Generator(.resnet(blocks: 2, ngf: 2, norm: .instance))
        #expect { try run.loadNetworks([("G", other.root)], epoch: "5") } throws: {
            "\($0)".contains("5_net_G.pth") && "\($0)".contains("does not fit net_G")
        }
    }
}
