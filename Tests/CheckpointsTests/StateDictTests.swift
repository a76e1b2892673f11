import Checkpoints
import Foundation
import Testing
import TestSupport

struct StateDictTests {
    static func tensor(_ v: Float) -> CheckpointTensor { CheckpointTensor(shape: [1], values: [v]) }

    @Test func keepsInsertionOrder() {
        var sd = StateDict()
        sd["b"] = Self.tensor(1)
        sd["a"] = Self.tensor(2)
        sd["c"] = Self.tensor(3)
        sd["a"] = Self.tensor(4)            // replacing keeps the position
        #expect(sd.keys == ["b", "a", "c"])
        #expect(sd["a"]?.values == [4])
        #expect(sd.map(\.key) == ["b", "a", "c"])
        #expect(sd.count == 3)
    }

    @Test func removal() {
        var sd = StateDict([("x", Self.tensor(1)), ("y", Self.tensor(2)), ("z", Self.tensor(3))])
        sd["y"] = nil
        #expect(sd.keys == ["x", "z"])
        let removed = sd.removeValue(forKey: "x")
        let again = sd.removeValue(forKey: "x")
        #expect(removed?.values == [1] && again == nil)
        #expect(sd.keys == ["z"] && sd["x"] == nil)
    }

    /// Keys come out in the file's order, which for `torch.save(net.state_dict())` is module
    /// registration order: messages and dumps list layers as the network runs them. Sorting by
    /// string (or a plain dictionary) would put `model.10` before `model.4`.
    @Test(arguments: ["resnet6_instance.pth", "resnet9_instance_legacy_odd.pth", "resnet2_instance_2018_module.pth",
                      "unet7_instance_legacy.pth"])
    func keysKeepTheFileOrder(_ name: String) throws {
        let checkpoint = try Checkpoint.load(contentsOf: fixturesDirectory.appendingPathComponent(name))
        let paths = checkpoint.stateDict.keys.map { key in key.split(separator: ".").compactMap { Int($0) } }
        #expect(paths.count > 10)
        for (a, b) in zip(paths, paths.dropFirst()) {
            #expect(!b.lexicographicallyPrecedes(a), "\(name): \(b) comes after \(a)")
        }
    }

    @Test func errorDescriptionIsOneLine() {
        let e = CheckpointError(code: .unreadable, path: "/x/g.pth", message: "cannot read the file", underlying: "Permission denied")
        #expect(e.description == "/x/g.pth: cannot read the file (Permission denied)")
        #expect(CheckpointError(code: .empty, path: "", message: "m").description == "m")
        // A real failure names the file and fits on one line.
        let missing = checkpointError { try Checkpoint.load(contentsOf: URL(fileURLWithPath: "/nonexistent/dir/G.pth")) }
        #expect(missing?.description.hasPrefix("/nonexistent/dir/G.pth: ") == true && missing?.description.contains("\n") == false,
                "\(String(describing: missing))")
    }

    @Test func emptyDataIsEmpty() {
        #expect(checkpointError { try Checkpoint.load(data: Data(), path: "e.pt") }?.code == .empty)
    }
}
