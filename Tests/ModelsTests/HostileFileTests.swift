import Checkpoints
import Foundation
import Models
import Testing
import TestSupport

extension HostileFixture: CustomTestStringConvertible {
    public var testDescription: String { file }
}

/// Broken and malicious files: each must be refused with a clear, specific error, and no code
/// from a pickle may ever run.
struct HostileFileTests {
    static let fixtures: [HostileFixture] = (try? HostileFixture.all()) ?? []
    static let marker = "/tmp/gantry-pwned-fixture"

    static let acceptedCodes: [String: Set<CheckpointError.Code>] = [
        "unrecognized_format": [.unknownFormat, .empty],
        "truncated": [.truncated],
        "disallowed_global": [.refusedGlobal, .notAStateDict],
        "bad_offsets": [.corrupt],
        "missing_storage": [.corrupt, .truncated],
    ]

    @Test func fixturesArePresent() { #expect(Self.fixtures.count >= 10) }

    @Test(arguments: fixtures)
    func refusedWithAClearError(_ f: HostileFixture) throws {
        try? FileManager.default.removeItem(atPath: Self.marker)
        defer { #expect(!FileManager.default.fileExists(atPath: Self.marker), "a pickle ran code") }
        do {
            _ = try Generator.load(contentsOf: f.url)
            Issue.record("\(f.file) loaded; expected \(f.expected_error)")
        } catch let error as CheckpointError {
            let accepted = try #require(Self.acceptedCodes[f.expected_error], "\(f.file): got \(error)")
            #expect(accepted.contains(error.code), "\(f.file): \(error.code) — \(error)")
            #expect(error.description.contains(f.file), "the message names the file")
            #expect(!error.description.contains("\n"), "one line")
        } catch let error as ModelError {
            #expect(f.expected_error == "architecture_mismatch", "\(f.file): \(error)")
            #expect(error.code == .architectureMismatch)
            if f.file == "wrong_arch.pth" {
                #expect(error.message.contains("model.4.weight"))
                #expect(error.message.contains("model.7.weight"))
            }
        }
    }

    @Test func evilPicklesNameTheRefusedGlobal() throws {
        for file in ["evil_os_system.pth", "evil_legacy_header.pth"] {
            let url = fixturesDirectory.appendingPathComponent("hostile/\(file)")
            #expect { try Checkpoint.load(contentsOf: url) } throws: { error in
                guard let e = error as? CheckpointError else { return false }
                return e.code == .refusedGlobal && (e.message.contains("system"))
            }
        }
    }
}
