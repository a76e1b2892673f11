import Foundation
import Pipeline
import Testing
import TestSupport

struct PipelineDefinitionTests {
    @Test func readsEveryKey() throws {
        let dir = try TemporaryDirectory()
        try dir.write("m.pth", "x")
        try dir.write("p.yaml", """
            description: test
            model: m.pth
            direction: BtoA
            condition: [0, 1, 0.5]
            eval: true
            preprocess: scale-width
            load-size: 512
            crop-size: 256
            max-side: 4000
            format: jpeg
            quality: 80
            suffix: _x
            jobs: "2:1:3"
            batch: 4
            threads: 2
            memory-limit: 2G
            scratch: tmp/spill
            algorithm: direct
            """)
        let d = try PipelineDefinition.load(contentsOf: dir.url.appendingPathComponent("p.yaml"))
        #expect(try d.modelURL()?.lastPathComponent == "m.pth")
        #expect(d.direction == "BtoA" && d.condition == [0, 1, 0.5] && d.eval == true)
        #expect(d.preprocess == "scale-width" && d.loadSize == 512 && d.cropSize == 256 && d.maxSide == 4000)
        #expect(d.format == .jpg && d.quality == 80 && d.suffix == "_x")
        #expect(d.jobs == ConversionPlan.Jobs(load: 2, process: 1, save: 3) && d.batch == 4 && d.threads == 2)
        #expect(d.memoryLimit?.bytes == 2 << 30 && d.algorithm == "direct")
        #expect(d.scratch == dir.url.appendingPathComponent("tmp/spill").standardizedFileURL)
    }

    func error(_ yaml: String) throws -> String {
        let dir = try TemporaryDirectory()
        try dir.write("p.yaml", yaml)
        do {
            let d = try PipelineDefinition.load(contentsOf: dir.url.appendingPathComponent("p.yaml"))
            _ = try d.modelURL()
        } catch let e as PipelineError {
            return e.message.replacingOccurrences(of: dir.url.path + "/", with: "")
        }
        return "no error"
    }

    @Test func errorsNameFileLineAndKey() throws {
        #expect(try error("format: png\nqualty: 90\n") .hasPrefix("p.yaml:2: unknown key 'qualty'"))
        #expect(try error("quality: high\n").hasPrefix("p.yaml:1: 'quality' must be a whole number from 1 to 100"))
        #expect(try error("format: png\njobs: 1:1\n").hasPrefix("p.yaml:2: 'jobs' must look like"))
        #expect(try error("eval: maybe\n").hasPrefix("p.yaml:1: 'eval' must be true or false"))
        #expect(try error("\n\nmodel: nothere.pth\n").hasPrefix("p.yaml:3: 'model' not found"))
        #expect(try error("preprocess: squash\n").contains("must be one of native"))
        #expect(try error("- a\n- b\n").contains("expected a mapping"))
        #expect(try error("a: [\n").contains("not valid YAML"))
    }

    @Test func shippedPipelinesParse() throws {
        let dir = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 3)
        for f in files { _ = try PipelineDefinition.load(contentsOf: dir.appendingPathComponent(f)) }
        #expect(try PipelineDefinition.load(contentsOf: dir.appendingPathComponent("sample.yaml")).modelURL() != nil)
    }
}
