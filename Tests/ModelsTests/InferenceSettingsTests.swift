import Engine
import Models
import Testing
import TestSupport

/// `--eval`, `--dropout --seed`, `--condition`, `--domain` as the library interprets them.
struct InferenceSettingsTests {
    let stargan = GeneratorArchitecture.stargan(conditions: 5, convDim: 4, repeats: 1)

    @Test func conditionsAndDomains() throws {
        #expect(try InferenceSettings.parseCondition("0,1, 0,1,1") == [0, 1, 0, 1, 1])
        #expect(throws: ModelError.self) { try InferenceSettings.parseCondition("0,x") }
        #expect(throws: ModelError.self) { try InferenceSettings.parseCondition("0,,1") }
        #expect(try InferenceSettings(domain: 2).conditionVector(for: stargan) == [0, 0, 1, 0, 0])
        #expect(try InferenceSettings(condition: [1, 0, 0, 1, 1]).conditionVector(for: stargan) == [1, 0, 0, 1, 1])
        func problem(_ s: InferenceSettings, _ a: GeneratorArchitecture) -> ConditionProblem? {
            do { _ = try s.conditionVector(for: a) } catch let e as ModelError { return e.condition } catch {}
            return nil
        }
        #expect(problem(InferenceSettings(domain: 5), stargan) == .domainOutOfRange(domain: 5, domains: 5))
        #expect(problem(InferenceSettings(condition: [1, 0]), stargan) == .wrongCount(given: 2, labels: 5))
        #expect(problem(InferenceSettings(), stargan) == .missing(labels: 5))
        #expect(problem(InferenceSettings(condition: [1], domain: 1), stargan) == .conditionAndDomain)
        #expect(problem(InferenceSettings(domain: 1), .resnet()) == .notStarGAN(architecture: GeneratorArchitecture.resnet().name))
        #expect(throws: ModelError.self) { try InferenceSettings.parseCondition("0,,1") }
        // The library names no command-line flags: commands word problems their own way.
        let all: [ConditionProblem] = [.notNumbers("x"), .notStarGAN(architecture: "resnet_9blocks"), .conditionAndDomain,
                                       .domainOutOfRange(domain: 7, domains: 5), .missing(labels: 5), .wrongCount(given: 2, labels: 5)]
        #expect(all.allSatisfy { !$0.message.contains("--") })
        #expect(try InferenceSettings().conditionVector(for: .resnet()) == nil)
        let t = try #require(try InferenceSettings(domain: 1).conditionTensor(for: stargan, batch: 2))
        #expect(t.shape == [2, 5] && t.values == [0, 1, 0, 0, 0, 0, 1, 0, 0, 0])
    }

    @Test func evalSwitchSelectsRunningStatistics() throws {
        // The fixture pair shares one checkpoint: PyTorch's train-mode and eval-mode outputs.
        let fixtures = try NetworkFixture.all()
        for name in ["resnet2_batch_dropout", "unet5_batch_dropout"] {
            let train = try #require(fixtures.first { $0.name == name })
            let eval = try #require(fixtures.first { $0.name == name + "_running" })
            let (g, _) = try Generator.load(contentsOf: train.checkpointURL)
            let input = try #require(try train.tensors()["input"])
            let y1 = try g.forward(input, context: InferenceSettings().context(backend: Backends.direct))
            let y2 = try g.forward(input, context: InferenceSettings(eval: true).context(backend: Backends.direct))
            #expect(y1.maxAbsDifference(try #require(try train.tensors()["output"])) <= 1e-4)
            #expect(y2.maxAbsDifference(try #require(try eval.tensors()["output"])) <= 1e-4)
            #expect(y1.maxAbsDifference(y2) > 1e-2)
        }
    }

    @Test func dropoutSeedIsRepeatable() throws {
        let f = try #require(try NetworkFixture.all().first { $0.name == "resnet2_batch_dropout" })
        let (g, _) = try Generator.load(contentsOf: f.checkpointURL)
        let input = try #require(try f.tensors()["input"])
        let a = try g.forward(input, context: InferenceSettings(dropoutSeed: 11).context(backend: Backends.direct))
        let b = try g.forward(input, context: InferenceSettings(dropoutSeed: 11).context(backend: Backends.direct))
        let c = try g.forward(input, context: InferenceSettings(dropoutSeed: 12).context(backend: Backends.direct))
        #expect(a.values == b.values)
        #expect(a.maxAbsDifference(c) > 0)
    }
}
