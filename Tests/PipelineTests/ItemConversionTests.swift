import Foundation
import Imaging
import Models
import Pipeline
import Testing
import TestSupport

/// The pieces every front end shares: option resolution, output names, condition lists.
struct ConversionSharingTests {
    /// Flags over the pipeline file over the defaults, option by option.
    @Test func flagsOverridePipelineFilesOverDefaults() throws {
        var d = PipelineDefinition()
        (d.format, d.quality, d.preprocess, d.loadSize, d.eval, d.memoryLimit) = (.jpg, 70, "resize", 300, true, MemoryBudget(bytes: 1 << 30))
        var f = ConvertFlags()
        (f.quality, f.loadSize, f.scratch) = (90, 128, URL(fileURLWithPath: "/var/tmp"))
        let c = try ConvertConfiguration.resolve(f, pipeline: d, architecture: .resnet())
        #expect(c.format == .jpg && c.quality == 90 && c.memory.bytes == 1 << 30)
        #expect(c.preprocess == PreprocessPolicy.named("resize", loadSize: 128))
        #expect(c.settings.eval && c.scratch?.path == "/var/tmp")
        let defaults = try ConvertConfiguration.resolve(ConvertFlags(), pipeline: PipelineDefinition(), architecture: .resnet())
        #expect(defaults.format == .png && defaults.quality == 95 && defaults.preprocess == .native && !defaults.settings.eval)
        // A pipeline's condition must fit the model.
        var starGAN = PipelineDefinition()
        starGAN.condition = [1, 0]
        #expect(throws: ModelError.self) { _ = try ConvertConfiguration.resolve(ConvertFlags(), pipeline: starGAN, architecture: .stargan(conditions: 5)) }
    }

    /// "0,,1" is refused on the command line and in a pipeline file alike.
    @Test func conditionListsReadOneWay() throws {
        #expect(throws: ModelError.self) { _ = try InferenceSettings.parseCondition("0,,1") }
        let dir = try TemporaryDirectory()
        try dir.write("p.yaml", "condition: \"0,,1\"\n")
        #expect(throws: PipelineError.self) { _ = try PipelineDefinition.load(contentsOf: dir.url.appendingPathComponent("p.yaml")) }
        try dir.write("q.yaml", "condition: \"0, 1,1\"\n")
        #expect(try PipelineDefinition.load(contentsOf: dir.url.appendingPathComponent("q.yaml")).condition == [0, 1, 1])
    }

    @Test func outputNames() {
        #expect(OutputFormat.same.fileExtension(forInput: "a/b.PNG") == "png")
        #expect(OutputFormat.same.fileExtension(forInput: "b.webp") == "jpg")
        #expect(OutputFormat.png.fileExtension(forInput: "b.jpg") == "png")
        #expect(OutputFormat.imageFormat(forOutput: URL(fileURLWithPath: "x.JPEG")) == .jpeg)
        #expect(OutputFormat.imageFormat(forOutput: URL(fileURLWithPath: "x.png")) == .png)
        #expect(UniqueName.numbered("a.b.png", 0) == "a.b.png" && UniqueName.numbered("a.b.png", 2) == "a.b-2.png")
        #expect(UniqueName.numbered("README", 1) == "README-1")
        #expect(Array(UniqueName.candidates(URL(fileURLWithPath: "/o/x.jpg")).prefix(3)).map(\.path) == ["/o/x.jpg", "/o/x-1.jpg", "/o/x-2.jpg"])
    }
}
