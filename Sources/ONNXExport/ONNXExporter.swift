import AtomicFiles
import Engine
import Foundation
import Models
import SwiftProtobuf

/// A network to export: an image-to-image generator (with StarGAN's labels as a second input),
/// or DCGAN's generator from noise.
public enum ExportableNetwork {
    case generator(Generator)
    /// DCGAN's `main` (z: N×nz×1×1 → N×channels×64×64).
    case noiseGenerator(Module, nz: Int, channels: Int, imageSize: Int)
}

/// How to export.
public struct ExportOptions: Sendable {
    /// BatchNorm with its running statistics (`convert --eval`, PyTorch's `eval()`) instead of
    /// each image's own statistics.
    public var runningStatistics: Bool
    /// Written as the model's `producer_version`.
    public var producerVersion: String
    /// Extra `metadata_props` (what the model was made from), after the exporter's own.
    public var metadata: [(key: String, value: String)]

    public init(runningStatistics: Bool = false, producerVersion: String = "", metadata: [(key: String, value: String)] = []) {
        self.runningStatistics = runningStatistics
        self.producerVersion = producerVersion
        self.metadata = metadata
    }
}

/// Why an export failed: a code, and a message that says what to do.
public struct ExportError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable { case unsupportedLayer, nonFiniteWeights, writeFailed }
    public let code: Code
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        (self.code, self.message, self.cause) = (code, message, cause)
    }

    public var description: String { message }
}

/// Writes generators as ONNX models: opset 17 (IR 8, which onnxruntime ≥ 1.12 and every
/// current runtime read; Pad-13 with reflect and edge, InstanceNormalization-6 and
/// BatchNormalization-15 are all it needs), float32 initializers named by their state_dict keys,
/// dynamic batch, height and width.
public enum ONNXExporter {
    public static let opset: Int64 = 17
    public static let irVersion: Int64 = 8

    /// The serialized model.
    public static func data(_ network: ExportableNetwork, options: ExportOptions = .init()) throws -> Data {
        try model(network, options: options).serializedData()
    }

    /// Writes the model to `url` whole or not at all (`AtomicFile`): a failure leaves no file and
    /// no partial one, and an existing file is replaced only once the new one is complete.
    public static func write(_ network: ExportableNetwork, to url: URL, options: ExportOptions = .init()) throws {
        let bytes = try data(network, options: options)
        do { try AtomicFile.write(bytes, to: url) } catch {
            throw ExportError(.writeFailed, "\(error)", cause: error)
        }
    }

    static func model(_ network: ExportableNetwork, options: ExportOptions) throws -> Onnx_ModelProto {
        var lowering = Lowering(graph: GraphBuilder(reserving: ["image", "labels", "z", "output"]),
                                runningStatistics: options.runningStatistics)
        var inputs: [Onnx_ValueInfoProto] = []
        let output: String, outputInfo: Onnx_ValueInfoProto
        var metadata: [(String, String)] = []
        let graphName: String
        switch network {
        case .generator(let generator):
            let a = generator.architecture
            graphName = a.name
            inputs.append(valueInfo("image", [.param("batch"), .value(a.inputChannels), .param("height"), .param("width")]))
            var x = "image"
            if a.family == .stargan {
                inputs.append(valueInfo("labels", [.param("batch"), .value(a.conditionChannels)]))
                x = labelPlanes(image: x, labels: "labels", graph: &lowering.graph)
            }
            let y = try lowering.emit(generator.root, key: "", input: x)
            output = y
            outputInfo = valueInfo(y, [.param("batch"), .value(a.outputChannels), .param("output_height"), .param("output_width")])
            metadata = generatorMetadata(a, options: options)
        case .noiseGenerator(let module, let nz, let channels, let side):
            graphName = "dcgan"
            inputs.append(valueInfo("z", [.param("batch"), .value(nz), .value(1), .value(1)]))
            output = try lowering.emit(module, key: "", input: "z")
            outputInfo = valueInfo(output, [.param("batch"), .value(channels), .value(side), .value(side)])
            metadata = [("gantry.architecture", "DCGAN generator, nz=\(nz)"),
                        ("gantry.input", "z: N×\(nz)×1×1 standard normal noise"),
                        ("gantry.output", "image: N×\(channels)×\(side)×\(side) in [-1, 1]; pixel = (v + 1) × 127.5"),
                        ("gantry.batch_norm", "running statistics (as gantry sample)")]
        }
        // The graph's output is named "output" whatever node made it.
        var g = Onnx_GraphProto()
        g.name = "gantry_" + graphName
        g.node = lowering.graph.nodes
        if let last = g.node.indices.last, g.node[last].output == [output] {
            g.node[last].output = ["output"]
        } else {
            g.node.append(identity(output))
        }
        var info = outputInfo
        info.name = "output"
        g.initializer = lowering.graph.initializers
        g.input = inputs
        g.output = [info]

        var m = Onnx_ModelProto()
        m.irVersion = irVersion
        m.producerName = "gantry"
        m.producerVersion = options.producerVersion
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = Self.opset
        m.opsetImport = [opset]
        m.graph = g
        m.metadataProps = (metadata + options.metadata.map { ($0.key, $0.value) }).map { key, value in
            var e = Onnx_StringStringEntryProto()
            (e.key, e.value) = (key, value)
            return e
        }
        return m
    }

    /// StarGAN's label planes: labels (N×c) reshaped to N×c×1×1, expanded to the image's height
    /// and width, concatenated after the image on channels.
    private static func labelPlanes(image: String, labels: String, graph: inout GraphBuilder) -> String {
        let shape4 = graph.int64s([0, -1, 1, 1], name: "label_shape")
        let column = graph.node("Reshape", [labels, shape4], name: "labels_4d")
        let batchAndLabels = graph.node("Shape", [column], [Attribute.int("start", 0), Attribute.int("end", 2)], name: "labels_shape")
        let heightAndWidth = graph.node("Shape", [image], [Attribute.int("start", 2), Attribute.int("end", 4)], name: "image_size")
        let target = graph.node("Concat", [batchAndLabels, heightAndWidth], [Attribute.int("axis", 0)], name: "planes_shape")
        let planes = graph.node("Expand", [column, target], name: "label_planes")
        return graph.node("Concat", [image, planes], [Attribute.int("axis", 1)], name: "image_and_labels")
    }

    private static func generatorMetadata(_ a: GeneratorArchitecture, options: ExportOptions) -> [(String, String)] {
        var m = [("gantry.architecture", a.description)]
        if a.predictsAB {
            m.append(("gantry.input", "image: N×1×H×W, CIELab L* (sRGB, D65) as L/50 − 1"))
            m.append(("gantry.output", "output: N×2×H×W, CIELab a*b* as ab/110; combine with the input's own L* and convert Lab → sRGB"))
        } else {
            m.append(("gantry.input", "image: N×\(a.inputChannels)×H×W in [-1, 1] (pixel / 127.5 − 1)"))
            m.append(("gantry.output", "output: N×\(a.outputChannels)×H'×W' in [-1, 1] (pixel = (v + 1) × 127.5)"))
        }
        if a.family == .stargan {
            m.append(("gantry.labels", "labels: N×\(a.conditionChannels) target domain values (0 or 1), as gantry convert --condition"))
        }
        if a.norm == .batch {
            m.append(("gantry.batch_norm", options.runningStatistics ? "running statistics (convert --eval)" : "each image's own statistics (as gantry convert and the reference test.py)"))
        }
        let sizes: String
        switch a.family {
        case .unet: sizes = "height and width must be multiples of \(a.sizeMultiple)"
        case .resnet: sizes = "any height and width ≥ 4; the output is rounded up to multiples of 4"
        case .stargan: sizes = "any height and width ≥ 4; the output is rounded down to multiples of 4"
        }
        m.append(("gantry.sizes", sizes))
        return m
    }

    private static func identity(_ input: String) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        (n.opType, n.name, n.input, n.output) = ("Identity", "output", [input], ["output"])
        return n
    }

    enum Dimension {
        case value(Int)
        case param(String)
    }

    static func valueInfo(_ name: String, _ dims: [Dimension]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .value(let v): dim.dimValue = Int64(v)
            case .param(let p): dim.dimParam = p
            }
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = GraphBuilder.DataType.float
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}
