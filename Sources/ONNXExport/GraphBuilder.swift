import Engine
import Foundation

/// Collects an ONNX graph's nodes (in topological order, as they are added) and initializers,
/// giving every value a unique name. Weights keep their PyTorch state_dict keys as names, so a
/// user reading the graph in Netron finds `model.1.weight` where the checkpoint has it.
struct GraphBuilder {
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private var used: Set<String> = []
    private var counts: [String: Int] = [:]
    /// Constant tensors already added, by content, so `ones(64)` exists once however many norms use it.
    private var constants: [String: String] = [:]

    init(reserving names: [String]) { used = Set(names) }

    /// A name not used yet, made from `hint`.
    mutating func fresh(_ hint: String) -> String {
        var n = counts[hint, default: 0]
        var name = hint
        while used.contains(name) {
            n += 1
            name = "\(hint)_\(n)"
        }
        counts[hint] = n
        used.insert(name)
        return name
    }

    /// Appends node `op` on `inputs` ("" for an omitted optional input) and returns its output's name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto] = [], name: String) -> String {
        let output = fresh(name)
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = output
        n.input = inputs
        n.output = [output]
        n.attribute = attributes
        nodes.append(n)
        return output
    }

    /// A float initializer holding `tensor` under `name` (a state_dict key, unique in a network).
    mutating func weight(_ name: String, _ tensor: Tensor) throws -> String {
        let values = tensor.withUnsafeBufferPointer { Array($0) }
        return try floats(fresh(name), values, shape: tensor.shape)
    }

    /// `count` copies of `value` as a 1-D float initializer, shared between the nodes that ask.
    mutating func filled(_ value: Float, count: Int) throws -> String {
        let key = "f\(value.bitPattern):\(count)"
        if let name = constants[key] { return name }
        let name = try floats(fresh(value == 1 ? "ones_\(count)" : value == 0 ? "zeros_\(count)" : "fill_\(count)"),
                              [Float](repeating: value, count: count), shape: [count])
        constants[key] = name
        return name
    }

    /// A 1-D int64 initializer (pads, shapes, axes), shared between the nodes that ask.
    mutating func int64s(_ values: [Int64], name hint: String) -> String {
        let key = "i:" + values.map(String.init).joined(separator: ",")
        if let name = constants[key] { return name }
        var t = Onnx_TensorProto()
        t.name = fresh(hint)
        t.dataType = DataType.int64
        t.dims = [Int64(values.count)]
        var data = Data(capacity: values.count * 8)
        for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        t.rawData = data
        initializers.append(t)
        constants[key] = t.name
        return t.name
    }

    private mutating func floats(_ name: String, _ values: [Float], shape: [Int]) throws -> String {
        guard values.allSatisfy(\.isFinite) else {
            throw ExportError(.nonFiniteWeights, "\(name) holds NaN or infinite values; an exported network would compute nothing useful")
        }
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = DataType.float
        t.dims = shape.map(Int64.init)
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        t.rawData = data
        initializers.append(t)
        return name
    }

    /// `TensorProto.DataType` values.
    enum DataType {
        static let float: Int32 = 1
        static let int64: Int32 = 7
    }
}

/// Attribute constructors (`AttributeProto.type` is required by the checker).
enum Attribute {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(value.utf8)
        return a
    }
}
