import Foundation
import Yams

extension TrainingOptions {
    /// Resolves a `gantry train RECIPE …` command line: the recipe's defaults, then — when
    /// continuing a run — the run's own `config.yaml`, then a `--config` file, then the flags.
    /// So `gantry train pix2pix --run runs/x --continue` carries on with the options the run was
    /// started with, and any flag given again changes just that option.
    ///
    /// - Throws: `TrainingError.invalidSetting` naming the option or file at fault.
    public static func resolveCommandLine(_ recipe: TrainingRecipe, arguments: [String]) throws -> TrainingOptions {
        let (config, settings) = try parseArguments(arguments)
        var entries: [(String, String)] = []
        if let config { entries = try configEntries(yaml: try readConfig(config), file: config) }
        let provisional = try resolve(recipe, config: entries, flags: settings)
        guard provisional.continueTraining, !provisional.run.isEmpty else { return provisional }
        let saved = URL(fileURLWithPath: provisional.run).appendingPathComponent("config.yaml")
        guard FileManager.default.fileExists(atPath: saved.path) else { return provisional }
        let text = try readConfig(saved.path)
        if let model = (try? Yams.load(yaml: text) as? [String: Any])?["model"] as? String, model != recipe.rawValue {
            throw TrainingError(.invalidSetting, "--continue: \(saved.path) is a \(model) run; use `gantry train \(model)`")
        }
        // Which epoch to load and whether to continue are this command's to say.
        let base = try configEntries(yaml: text, file: saved.path).filter { !["continue", "epoch"].contains(key(named: $0.0)?.name) }
        return try resolve(recipe, config: base + entries, flags: settings)
    }

    private static func readConfig(_ path: String) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > 1 << 20 {
            throw TrainingError(.invalidSetting, "\(path): \(size) bytes is too large for a config file")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TrainingError(.invalidSetting, "\(path): cannot read the config file")
        }
        return text
    }
}
