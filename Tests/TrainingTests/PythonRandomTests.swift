import Foundation
import Runs
import TestSupport
import Testing
import Training

/// Gantry's copy of CPython's `random` against what CPython computed
/// (tools/fixtures/make_python_random_fixtures.py): StarGAN's CelebA split depends on it.
struct PythonRandomTests {
    struct Fixture: Decodable {
        struct CelebA: Decodable { var n: Int; var first: [Int]; var last: [Int]; var checksum: UInt64 }
        var seed: UInt64
        var getrandbits32: [UInt32]
        var randbelow: [[Int]]
        var shuffles: [String: [Int]]
        var celeba: CelebA
    }

    static func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: fixturesDirectory.appendingPathComponent("training/python_random.json")))
    }

    /// Where two orders first differ (nil if equal), so a failure prints a number, not 2,000.
    static func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> Int? {
        a.count != b.count ? min(a.count, b.count) : a.indices.first { a[$0] != b[$0] }
    }

    @Test func streamAndBoundedDrawsMatchCPython() throws {
        let f = try Self.fixture()
        var r = PythonRandom(seed: f.seed)
        #expect((0..<8).map { _ in r.next32() } == f.getrandbits32)
        var b = PythonRandom(seed: f.seed)
        #expect(f.randbelow.count >= 80)
        let wrong = f.randbelow.filter { b.below($0[0]) != $0[1] }.map { $0[0] }
        #expect(wrong.isEmpty, "randbelow differs for n = \(wrong.prefix(5))")
    }

    @Test func shufflesMatchCPython() throws {
        let f = try Self.fixture()
        #expect(f.shuffles.count >= 7)
        for (key, expected) in f.shuffles {
            var items = Array(0..<expected.count)
            var r = PythonRandom(seed: f.seed)
            r.shuffle(&items)
            #expect(items == expected, "shuffle of \(key) differs first at \(Self.firstDifference(items, expected) ?? -1)")
        }
        // CelebA's 202,599 lines: the test images are the first 1,999 of this order.
        var order = Array(0..<f.celeba.n)
        var r = PythonRandom(seed: f.seed)
        r.shuffle(&order)
        #expect(Self.firstDifference(Array(order.prefix(2000)), f.celeba.first) == nil && Array(order.suffix(10)) == f.celeba.last)
        let checksum = order.enumerated().reduce(UInt64(0)) { $0 + UInt64($1.offset * $1.element) } % ((1 << 61) - 1)
        #expect(checksum == f.celeba.checksum)
    }
}
