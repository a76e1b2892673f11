import ArgumentParser
import Foundation

/// `gantry healthcheck FILE`: whether the watch service's heartbeat file (`watch --heartbeat`)
/// was touched recently. The container's HEALTHCHECK runs it, so the image needs no shell.
struct Healthcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 if a watch service's heartbeat file was touched within --max-age seconds, 1 otherwise.")

    @Argument(help: "The heartbeat file (watch --heartbeat FILE).") var file: String
    @Option(help: "Seconds the heartbeat may be old (the service touches it every 2 s).") var maxAge: Double = 30

    func validate() throws {
        guard maxAge > 0, maxAge.isFinite else { throw ValidationError("--max-age must be a positive number of seconds") }
    }

    func run() throws {
        guard let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date else {
            throw fail("\(file): no heartbeat file (is the watch service running with --heartbeat \(file)?)")
        }
        let age = Date().timeIntervalSince(modified)
        guard age <= maxAge else {
            throw fail("\(file): last heartbeat \(Int(age)) s ago, more than --max-age \(Int(maxAge)) s: the watch service is stuck or stopped")
        }
        print("healthy: heartbeat \(String(format: "%.1f", max(0, age))) s ago")
    }
}
