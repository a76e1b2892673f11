import Foundation
import Imaging
import Testing

/// The files written by make_image_fixtures.py and what they must decode to.
enum Fixtures {
    struct Good: Decodable {
        let width: Int
        let height: Int
        let colorChannels: Int
        let hasAlpha: Bool
        let bitDepth: Int
        let format: String
        let orientation: Int
        let tolerance: Int
        let hasICC: Bool
        let samples: [Int]
        /// Recorded only when above 1 (multi-page TIFFs).
        let pageCount: Int?
    }

    struct Expected: Decodable {
        let good: [String: Good]
        let bad: [String: String]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

    /// Nil only if expected.json is missing or unreadable; `fixturesArePresent` reports that.
    static let expected: Expected? = {
        guard let data = try? Data(contentsOf: url("expected.json")) else { return nil }
        return try? JSONDecoder().decode(Expected.self, from: data)
    }()

    static var goodNames: [String] { (expected?.good.keys).map { $0.sorted() } ?? [] }
    static var badNames: [String] { (expected?.bad.keys).map { $0.sorted() } ?? [] }
}

/// The error `body` throws, or nil (recorded as a test failure) if it does not throw one.
func imageError<T>(_ body: () throws -> T, sourceLocation: SourceLocation = #_sourceLocation) -> ImageError? {
    do {
        _ = try body()
        Issue.record("expected an ImageError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as ImageError {
        return error
    } catch {
        Issue.record("expected an ImageError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A deterministic test pattern, `channels` samples per pixel, asymmetric in x and y.
func pattern(width: Int, height: Int, channels: Int) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(width * height * channels)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                out.append(UInt8(truncatingIfNeeded: x * (7 + c * 5) + y * (3 + c * 11) + c * 60))
            }
        }
    }
    return out
}

/// A smooth pattern JPEG reproduces closely (sharp patterns ring after lossy coding).
func smoothPattern(width: Int, height: Int, channels: Int) -> [UInt8] {
    var out = [UInt8]()
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                let value = 40.0 + 170.0 * Double(x + (c == 1 ? y : 0)) / Double(width + height) + Double(c * 10)
                out.append(UInt8(value.rounded()))
            }
        }
    }
    return out
}

func maxDifference(_ a: [UInt16], _ b: [UInt8]) -> Int {
    zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
}
