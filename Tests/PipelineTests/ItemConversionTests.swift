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
        let c = try ConversionPlan.resolve(f, pipeline: d, architecture: .resnet())
        #expect(c.format == .jpg && c.quality == 90 && c.memory.bytes == 1 << 30)
        #expect(c.preprocess == PreprocessPolicy.named("resize", loadSize: 128))
        #expect(c.settings.eval && c.scratch?.path == "/var/tmp")
        let defaults = try ConversionPlan.resolve(ConvertFlags(), pipeline: PipelineDefinition(), architecture: .resnet())
        #expect(defaults.format == .png && defaults.quality == 95 && defaults.preprocess == .native && !defaults.settings.eval)
        // A pipeline's condition must fit the model.
        var starGAN = PipelineDefinition()
        starGAN.condition = [1, 0]
        #expect(throws: ModelError.self) { _ = try ConversionPlan.resolve(ConvertFlags(), pipeline: starGAN, architecture: .stargan(conditions: 5)) }
    }

    /// The rest of the plan — naming, batching, threads and their split, the shard, what to do
    /// with existing outputs — resolves the same way, and flags and keys share their bounds.
    @Test func thePlanResolvesOnce() throws {
        var d = PipelineDefinition()
        (d.suffix, d.batch, d.threads, d.algorithm, d.jobs) = ("_p", 4, 8, "direct", ConversionPlan.Jobs(load: 1, process: 2, save: 1))
        let fromFile = try ConversionPlan.resolve(ConvertFlags(), pipeline: d, architecture: .resnet())
        #expect(fromFile.suffix == "_p" && fromFile.batch == 4 && fromFile.threads == 8 && fromFile.algorithm == .direct)
        #expect(fromFile.threadsPerWorker == 4 && !fromFile.overwrite && fromFile.shard == nil)
        var f = ConvertFlags()
        (f.suffix, f.batch, f.threads, f.algorithm, f.overwrite, f.shard) = ("_f", 2, 3, .winograd, true, Shard("1/2"))
        let flagged = try ConversionPlan.resolve(f, pipeline: d, architecture: .resnet())
        #expect(flagged.suffix == "_f" && flagged.batch == 2 && flagged.threads == 3 && flagged.algorithm == .winograd)
        #expect(flagged.threadsPerWorker == 1 && flagged.overwrite && flagged.shard == Shard("1/2"))
        // One naming rule for convert and watch.
        #expect(OutputNaming.relativeOutput(for: "a/b/photo.JPG", suffix: "_f", format: .same) == "a/b/photo_f.jpg")
        #expect(OutputNaming.relativeOutput(for: "x.png", suffix: "", format: .jpg) == "x.jpg")
        // Bounds are the same table for flags and keys: a key past them names the file; a flag
        // past them (a library caller that skipped the CLI's checks) is refused by resolve.
        let dir = try TemporaryDirectory()
        for (key, value) in [("batch", "65"), ("max-side", "70000"), ("threads", "2000"), ("quality", "0")] {
            try dir.write("p.yaml", "\(key): \(value)\n")
            #expect(throws: PipelineError.self, "\(key): \(value)") { _ = try PipelineDefinition.load(contentsOf: dir.url.appendingPathComponent("p.yaml")) }
        }
        for change in [{ (f: inout ConvertFlags) in f.batch = 65 }, { $0.maxSide = 70_000 }, { $0.threads = 0 }, { $0.suffix = "/x" }] {
            var bad = ConvertFlags()
            change(&bad)
            #expect(throws: PipelineError.self) { _ = try ConversionPlan.resolve(bad, pipeline: PipelineDefinition(), architecture: .resnet()) }
        }
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
        #expect(OutputFormat.same.fileExtension(forInput: "b.webp") == "webp")
        #expect(OutputFormat.same.fileExtension(forInput: "b.TIFF") == "tiff" && OutputFormat.same.fileExtension(forInput: "b.tif") == "tif")
        #expect(OutputFormat.same.fileExtension(forInput: "b.heic") == "jpg" && OutputFormat.same.fileExtension(forInput: "b.jpeg") == "jpg")
        #expect(OutputFormat.tiff.fileExtension(forInput: "b.png") == "tif" && OutputFormat(name: "TIFF") == .tiff && OutputFormat(name: "tif") == .tiff)
        #expect(OutputFormat.imageFormat(forOutput: URL(fileURLWithPath: "x.tiff")) == .tiff)
        #expect(OutputFormat.imageFormat(forOutput: URL(fileURLWithPath: "x.webp")) == .webp)
        #expect(OutputFormat.png.fileExtension(forInput: "b.jpg") == "png")
        #expect(OutputFormat.imageFormat(forOutput: URL(fileURLWithPath: "x.JPEG")) == .jpeg)
        #expect(OutputFormat.imageFormat(forOutput: URL(fileURLWithPath: "x.png")) == .png)
        #expect(UniqueName.numbered("a.b.png", 0) == "a.b.png" && UniqueName.numbered("a.b.png", 2) == "a.b-2.png")
        #expect(UniqueName.numbered("README", 1) == "README-1")
        #expect(Array(UniqueName.candidates(URL(fileURLWithPath: "/o/x.jpg")).prefix(3)).map(\.path) == ["/o/x.jpg", "/o/x-1.jpg", "/o/x-2.jpg"])
    }
}
