import Checkpoints
import Foundation
import Models
import Testing
import TestSupport

/// Files that once crashed or hung the loader (issue 8): each is now one specific error, and
/// the network is sized from the file only after checked arithmetic says it fits.
struct CrashRegressionTests {
    static let fixtures = ((try? CrashFixture.all()) ?? []).filter { ["model", "checkpoint"].contains($0.kind) }

    @Test func everyClassHasAFixture() throws {
        let all = try CrashFixture.all()
        #expect(Set(all.map(\.class)) == Set(1...8))
        #expect(all.allSatisfy { FileManager.default.fileExists(atPath: $0.url.path) })
    }

    @Test(arguments: fixtures)
    func refusedWithTheReason(_ f: CrashFixture) throws {
        if f.expect == "notes" {
            let checkpoint = try Checkpoint.load(contentsOf: f.url)
            #expect(checkpoint.notes.contains(f.contains), "\(checkpoint.notes)")
            #expect(checkpoint.stateDict.keys == ["model.1.weight"])
            return
        }
        do {
            _ = try Generator.load(contentsOf: f.url)
            Issue.record("\(f.file) loaded; expected \(f.expect)")
        } catch let error as CheckpointError {
            #expect(error.code.rawValue == f.expect, "\(error)")
            #expect(error.description.contains(f.contains), "\(error)")
        } catch let error as ModelError {
            #expect(error.code.rawValue == f.expect, "\(error)")
            #expect(error.description.contains(f.contains), "\(error)")
        }
    }

    /// The bound used before allocating must be the networks' real convolution weights, or a
    /// real checkpoint could be refused (too high) or a hostile one let through (too low).
    @Test(arguments: [
        GeneratorArchitecture.resnet(blocks: 9, ngf: 64), .resnet(blocks: 0, ngf: 3, norm: .batch, inputChannels: 1),
        .resnet(blocks: 2, ngf: 8, norm: .none, dropout: true, outputChannels: 1),
        .unet(downs: 8, ngf: 64), .unet(downs: 5, ngf: 4, norm: .instance), .unet(downs: 3, ngf: 2),
        .unet(downs: 7, ngf: 6, inputChannels: 1, outputChannels: 2),
        .stargan(conditions: 5, convDim: 64, repeats: 6), .stargan(conditions: 2, convDim: 4, repeats: 0, imageChannels: 1),
    ])
    func convolutionWeightCountMatchesTheBuiltNetwork(_ a: GeneratorArchitecture) throws {
        let g = try Generator(a)
        let built = g.root.modules(of: Conv2d.self).reduce(0) { $0 + $1.weight.count }
            + g.root.modules(of: ConvTranspose2d.self).reduce(0) { $0 + $1.weight.count }
        #expect(try a.convolutionWeightCount() == built)
    }

    @Test func impossibleSizesAreRefusedBeforeBuilding() {
        let bad: [GeneratorArchitecture] = [
            .resnet(blocks: 9, ngf: 0), .resnet(blocks: -1), .resnet(blocks: 5000), .resnet(inputChannels: 0),
            .resnet(ngf: 1 << 20), .unet(downs: 0), .unet(downs: 64), .stargan(conditions: 0),
            .stargan(conditions: 5, convDim: 64, repeats: 1 << 20),
        ]
        for a in bad {
            #expect(throws: ModelError.self, "\(a)") { try a.validate() }
        }
        #expect(throws: Never.self) { try GeneratorArchitecture.resnet(blocks: 9).validate() }
    }
}
