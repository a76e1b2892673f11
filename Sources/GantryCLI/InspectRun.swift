import ArgumentParser
import Foundation
import Runs
import Training

extension Inspect {
    /// `inspect RUN` on a `gantry train` run folder: the run rather than one checkpoint. Any file
    /// of it that is not what training writes is one line naming the file, exit 1.
    func inspectRun(_ url: URL) throws {
        guard architecture.overrides.isEmpty else {
            throw fail("\(checkpoint): a run folder's architecture comes from its config.yaml; drop the architecture flags (or inspect one of its .pth files)", code: 64)
        }
        let summary: RunSummary
        do { summary = try RunSummary(url) } catch let e as TrainingError { throw fail(e) } catch {
            throw fail("\(checkpoint): \(error)")
        }
        try printSummary(summary, text: summary.text)
    }
}
