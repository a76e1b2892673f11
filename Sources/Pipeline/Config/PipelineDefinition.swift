import Foundation
import Imaging
import Models
import Yams

/// A named pipeline read from a YAML file (see `pipelines/`): which model, how to prepare
/// images and how to write them. Command-line flags override every value.
///
/// Unknown keys, wrong types and missing models are errors naming the file, the line and the key:
/// a typo in a pipeline file must not silently run with defaults.
public struct PipelineDefinition: Sendable, Equatable {
    public var description: String?
    /// Model checkpoint, or a checkpoint folder (then `direction` picks `latest_net_G_A.pth` / `_B`),
    /// resolved against the pipeline file's folder. Checked when used (`modelURL()`), so a file
    /// naming a model that is not there yet still works with `-m` on the command line.
    public var model: URL?
    /// "FILE:LINE" of the `model` key, for errors.
    public var modelLocation: String?
    public var direction: String?
    public var condition: [Float]?
    public var domain: Int?
    public var eval: Bool?
    public var dropout: Bool?
    public var seed: UInt64?
    public var preprocess: String?
    public var loadSize: Int?
    public var cropSize: Int?
    public var maxSide: Int?
    public var gamut: ColourGamut?
    public var format: OutputFormat?
    public var quality: Int?
    public var lossless: Bool?
    public var suffix: String?
    public var jobs: ConversionPlan.Jobs?
    public var batch: Int?
    public var threads: Int?
    public var memoryLimit: MemoryBudget?
    /// Folder for the activations of images too large for `memoryLimit` (relative to the file).
    public var scratch: URL?
    public var algorithm: String?

    public init() {}

    /// The model this file names, which must exist.
    public func modelURL() throws -> URL? {
        guard let model else { return nil }
        guard FileManager.default.fileExists(atPath: model.path) else {
            throw PipelineError(.invalidDefinition,
                "\(modelLocation ?? ""): 'model' not found: \(model.path) (relative paths are relative to the pipeline file)")
        }
        return model
    }

    static let keys = ["description", "model", "direction", "condition", "domain", "eval", "dropout", "seed", "gamut",
                       "preprocess", "load-size", "crop-size", "max-side", "format", "quality", "lossless", "suffix", "jobs",
                       "batch", "threads", "memory-limit", "scratch", "algorithm"]

    public static func load(contentsOf url: URL) throws -> PipelineDefinition {
        let path = url.path
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PipelineError(.invalidDefinition, "\(path): cannot read pipeline file (\(describe(error)))")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw PipelineError(.invalidDefinition, "\(path): not valid YAML: \(String(describing: e).split(separator: "\n").first ?? "")")
        } catch {
            throw PipelineError(.invalidDefinition, "\(path): not valid YAML (\(error))")
        }
        guard let root else { return PipelineDefinition() }
        guard let mapping = root.mapping else {
            throw PipelineError(.invalidDefinition, "\(path):\(line(root)): expected a mapping of settings (key: value)")
        }
        var d = PipelineDefinition()
        let base = url.deletingLastPathComponent()
        for (k, v) in mapping {
            guard let key = k.string else { throw PipelineError(.invalidDefinition, "\(path):\(line(k)): keys must be strings") }
            let field = Field(path: path, key: key, node: v)
            switch key {
            case "description": d.description = try field.string()
            case "model":
                let m = try field.string()
                let u = m.hasPrefix("/") ? URL(fileURLWithPath: m) : base.appendingPathComponent(m)
                d.model = u.standardizedFileURL
                d.modelLocation = "\(path):\(line(v))"
            case "direction":
                let s = try field.string()
                guard ["AtoB", "BtoA"].contains(s) else { throw field.error("must be AtoB or BtoA, not '\(s)'") }
                d.direction = s
            case "condition":
                if let seq = v.sequence {
                    d.condition = try seq.map { item in
                        guard let f = item.float, f.isFinite else { throw field.error("must be a list of numbers") }
                        return Float(f)
                    }
                } else {
                    // The same reading as --condition: "0,,1" is refused in both.
                    do { d.condition = try InferenceSettings.parseCondition(try field.string()) } catch { throw field.error("must be a list of numbers like [0, 1, 0, 1, 1]") }
                }
            case "domain": d.domain = try field.int(0...)
            case "eval": d.eval = try field.bool()
            case "dropout": d.dropout = try field.bool()
            case "seed": d.seed = UInt64(try field.int(0...))
            case "preprocess":
                let s = try field.string()
                guard PreprocessPolicy.names.contains(s) else {
                    throw field.error("must be one of \(PreprocessPolicy.names.joined(separator: ", ")), not '\(s)'")
                }
                d.preprocess = s
            case "load-size": d.loadSize = try field.int(ConversionLimits.side)
            case "crop-size": d.cropSize = try field.int(ConversionLimits.side)
            case "max-side": d.maxSide = try field.int(ConversionLimits.side)
            case "gamut":
                let s = try field.string()
                guard let g = ColourGamut(rawValue: s) else { throw field.error("must be clip or keep-lightness, not '\(s)'") }
                d.gamut = g
            case "format":
                let s = try field.string()
                guard let f = OutputFormat(name: s) else { throw field.error("must be png, jpg, tif, webp or same, not '\(s)'") }
                d.format = f
            case "quality": d.quality = try field.int(ConversionLimits.quality)
            case "lossless": d.lossless = try field.bool()
            case "suffix":
                let s = try field.string()
                if let problem = OutputNaming.suffixProblem(s) { throw field.error(problem) }
                d.suffix = s
            case "jobs":
                let s = try field.string()
                guard let j = ConversionPlan.Jobs(s) else { throw field.error("must look like 1:1:2 (load:process:save threads), not '\(s)'") }
                d.jobs = j
            case "batch": d.batch = try field.int(ConversionLimits.batch)
            case "threads": d.threads = try field.int(ConversionLimits.threads)
            case "memory-limit":
                let s = try field.string()
                guard let m = MemoryBudget.parse(s) else { throw field.error("must be a size like 4G or 800M, not '\(s)'") }
                d.memoryLimit = m
            case "scratch":
                let s = try field.string()
                d.scratch = (s.hasPrefix("/") ? URL(fileURLWithPath: s) : base.appendingPathComponent(s)).standardizedFileURL
            case "algorithm":
                let s = try field.string()
                guard ["winograd", "direct"].contains(s) else { throw field.error("must be winograd or direct, not '\(s)'") }
                d.algorithm = s
            default:
                throw PipelineError(.invalidDefinition,
                    "\(path):\(line(k)): unknown key '\(key)' (known keys: \(keys.joined(separator: ", ")))")
            }
        }
        return d
    }
}

private func line(_ node: Node) -> Int { (node.mark?.line ?? 0) }

/// One value in a pipeline file, with the typed readers that name the file, line and key on error.
private struct Field {
    let path: String, key: String, node: Node

    func error(_ message: String) -> PipelineError {
        PipelineError(.invalidDefinition, "\(path):\(line(node)): '\(key)' \(message)")
    }

    func string() throws -> String {
        guard let s = node.scalar?.string else { throw error("must be a single value, not a list or mapping") }
        return s
    }

    func int(_ range: PartialRangeFrom<Int>) throws -> Int {
        guard let s = node.scalar, let v = Int(s.string), range.contains(v) else {
            throw error("must be a whole number of at least \(range.lowerBound), not '\(node.scalar?.string ?? "a list")'")
        }
        return v
    }

    func int(_ range: ClosedRange<Int>) throws -> Int {
        guard let s = node.scalar, let v = Int(s.string), range.contains(v) else {
            throw error("must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(node.scalar?.string ?? "a list")'")
        }
        return v
    }

    func bool() throws -> Bool {
        guard let b = node.bool else { throw error("must be true or false, not '\(node.scalar?.string ?? "a list")'") }
        return b
    }
}
