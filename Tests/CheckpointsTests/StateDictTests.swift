import Checkpoints
import Foundation
import Testing

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

    @Test func renaming() {
        var sd = StateDict([("x", Self.tensor(1)), ("y", Self.tensor(2))])
        let renamed = sd.renameKey("x", to: "w")
        #expect(renamed && sd.keys == ["w", "y"])
        let taken = sd.renameKey("w", to: "y")
        let missing = sd.renameKey("nope", to: "q")
        #expect(!taken && !missing)
        #expect(sd["w"]?.values == [1])
    }

    @Test func tensorBasics() {
        let t = CheckpointTensor(shape: [2, 0, 3], dtype: .bfloat16, values: [])
        #expect(t.count == 0 && t.dtype == .bfloat16)
        #expect(TensorDType.float16.byteSize == 2 && TensorDType.int64.byteSize == 8 && TensorDType.bool.byteSize == 1)
        #expect(CheckpointFormat.pytorchZip.rawValue == "pytorch-zip")
    }

    @Test func errorDescriptionIsOneLine() {
        let e = CheckpointError(code: .unreadable, path: "/x/g.pth", message: "cannot read the file", underlying: "Permission denied")
        #expect(e.description == "/x/g.pth: cannot read the file (Permission denied)")
        #expect(CheckpointError(code: .empty, path: "", message: "m").description == "m")
    }

    @Test func emptyDataIsEmpty() {
        #expect(checkpointError { try Checkpoint.load(data: Data(), path: "e.pt") }?.code == .empty)
    }
}
