import AtomicFiles
import Foundation

/// Reads safetensors files: a little-endian u64 header length N, N bytes of JSON
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`,
/// then the data section that the offsets index into.
enum SafetensorsLoader {
    private static let dtypes: [String: TensorDType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64, "I64": .int64,
        "I32": .int32, "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
    ]
    private static let unsupportedDTypes: Set<String> = [
        "U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "E8M0",
    ]

    /// Whether the first bytes look like a safetensors header (length, then `{`).
    static func looksLike(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 9 && bytes[8] == UInt8(ascii: "{")
    }

    static func load(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> ParsedCheckpoint {
        var reader = ByteReader(bytes, what: "the safetensors header")
        let headerLength = try reader.u64()
        guard headerLength <= UInt64(reader.remaining) else {
            throw ParseError(.truncated, "file is truncated or corrupt: the safetensors header length \(headerLength) exceeds the \(bytes.count - 8) bytes that follow it")
        }
        let header = try reader.slice(Int(headerLength))
        let dataStart = reader.position
        let dataSize = bytes.count - dataStart

        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header), options: [])
        } catch {
            throw .corrupt("the safetensors header is not valid JSON")
        }
        guard let entries = json as? [String: Any] else { throw .corrupt("the safetensors header is not a JSON object") }

        var specs: [(name: String, dtype: TensorDType, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in entries where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shapeValues = info["shape"] as? [Any], let offsetValues = info["data_offsets"] as? [Any] else {
                throw .corrupt("safetensors entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = dtypes[dtypeName] else {
                if unsupportedDTypes.contains(dtypeName) {
                    throw ParseError(.unsupported, "tensor '\(name)' has dtype \(dtypeName), which Gantry cannot convert to float32")
                }
                throw .corrupt("safetensors entry '\(name)' has unknown dtype '\(dtypeName.prefix(20))'")
            }
            let shape = shapeValues.compactMap(nonNegativeInt)
            let offsets = offsetValues.compactMap(nonNegativeInt)
            guard shape.count == shapeValues.count, shape.count <= 64, offsets.count == 2, offsetValues.count == 2 else {
                throw .corrupt("safetensors entry '\(name)' has a malformed shape or data_offsets")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataSize else {
                throw .corrupt("safetensors entry '\(name)' has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data section")
            }
            guard let count = Checked.product(shape), let size = Checked.multiply(count, dtype.byteSize),
                  size == end - begin else {
                throw .corrupt("safetensors entry '\(name)' has shape \(shape) (\(dtype.rawValue)) but \(end - begin) bytes of data")
            }
            specs.append((name, dtype, shape, begin, end))
        }
        // JSON objects are unordered; the data layout is the writer's order.
        specs.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }

        var budget = TensorConversion.Budget(fileSize: bytes.count)
        var stateDict = StateDict()
        var converted: [TensorDType: Int] = [:]
        for spec in specs {
            let data = UnsafeRawBufferPointer(rebasing: bytes[(dataStart + spec.begin)..<(dataStart + spec.end)])
            let values = try TensorConversion.gather(
                storage: data, dtype: spec.dtype, bigEndian: false, offset: 0, shape: spec.shape,
                stride: contiguousStrides(spec.shape), key: spec.name, budget: &budget)
            stateDict[spec.name] = CheckpointTensor(shape: spec.shape, dtype: spec.dtype, values: values)
            if spec.dtype != .float32 { converted[spec.dtype, default: 0] += 1 }
        }
        return ParsedCheckpoint(format: .safetensors, stateDict: stateDict,
                                notes: StateDictSelection.conversionNotes(converted))
    }

    private static func nonNegativeInt(_ value: Any) -> Int? {
        guard let i = value as? Int, i >= 0 else { return nil }
        return i
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for d in shape.indices.reversed() {
            strides[d] = step
            step = step &* max(shape[d], 1)
        }
        return strides
    }
}

/// Writes a `StateDict` as a float32 safetensors file.
public enum SafetensorsWriter {
    /// Writes every tensor as `F32` (the values are Float; the source dtype is not kept),
    /// in the state dict's order. The file is written to a temporary file and renamed
    /// into place, so readers never see a partial file.
    ///
    /// - Parameter metadata: optional string pairs stored under `__metadata__`.
    /// - Throws: `CheckpointError` with code `.unreadable` if the file cannot be written.
    public static func write(_ stateDict: StateDict, to url: URL,
                             metadata: [String: String] = [:]) throws(CheckpointError) {
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for (name, tensor) in stateDict {
            let size = tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        header += parts.joined(separator: ",") + "}"
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        // Streamed tensor by tensor: an optimizer state of a few hundred MB is never held twice.
        do {
            try AtomicFile.write(to: url) { sink in
                try withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { try sink.write($0) }
                try headerBytes.withUnsafeBytes { try sink.write($0) }
                for (_, tensor) in stateDict {
                    let littleEndian = tensor.values.map { $0.bitPattern.littleEndian }
                    try littleEndian.withUnsafeBytes { try sink.write($0) }
                }
            }
        } catch {
            throw CheckpointError(writing: error, what: "safetensors file")
        }
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
