import AtomicFiles
import Foundation

/// Writes a state dict the way `torch.save(net.state_dict(), path)` does since PyTorch 1.6: a
/// zip archive (stored, not compressed) holding `archive/data.pkl`, one `archive/data/N` file
/// per tensor and `archive/version`.
///
/// The pickle uses only what `torch.load(weights_only=True)` allows — `collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage` / `torch.LongStorage` persistent
/// ids — so the reference's `load_state_dict(strict=True)` takes the file. BatchNorm's
/// `num_batches_tracked` is written as int64, as PyTorch keeps it; everything else as float32.
public enum TorchWriter {
    /// Writes `stateDict` to `url` through a temporary file renamed into place, so a reader never
    /// sees a partial checkpoint.
    public static func write(_ stateDict: StateDict, to url: URL) throws(CheckpointError) {
        // Each entry's bytes are made when written and dropped after, so writing a 200 MB
        // network needs one tensor's bytes at a time, not the whole file in memory.
        var entries: [(String, () -> [UInt8])] = [("archive/data.pkl", { pickle(stateDict) }), ("archive/byteorder", { Array("little".utf8) })]
        for (index, (key, tensor)) in stateDict.enumerated() {
            entries.append(("archive/data/\(index)", { isInteger(key) ? int64Bytes(tensor) : float32Bytes(tensor) }))
        }
        entries.append(("archive/version", { Array("3\n".utf8) }))
        do {
            try AtomicFile.write(to: url) { sink in try zip(entries, to: { try sink.write($0) }) }
        } catch let error where error.cause is TooLarge {
            throw CheckpointError(code: .writeFailed, path: url.path, message: "cannot write a checkpoint this large (zip64 is not supported)")
        } catch {
            throw CheckpointError(writing: error, what: "checkpoint")
        }
    }

    /// PyTorch stores the batch counter as int64.
    static func isInteger(_ key: String) -> Bool { key.hasSuffix("num_batches_tracked") }

    static func float32Bytes(_ t: CheckpointTensor) -> [UInt8] {
        t.values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Array($0) }
    }

    static func int64Bytes(_ t: CheckpointTensor) -> [UInt8] {
        // A counter is a whole number; clamp so a NaN or huge value cannot trap the conversion.
        t.values.map { Int64($0.isFinite ? max(-9e18, min(9e18, $0)) : 0).littleEndian }.withUnsafeBytes { Array($0) }
    }

    /// Protocol-2 pickle of `OrderedDict([(key, _rebuild_tensor_v2(storage, 0, size, stride,
    /// False, OrderedDict())), ...])`, storages as persistent ids `('storage', <Storage>, 'N', 'cpu', numel)`.
    static func pickle(_ stateDict: StateDict) -> [UInt8] {
        var p = Pickle()
        p.bytes += [0x80, 2]
        p.global("collections", "OrderedDict")
        p.bytes += [0x29, 0x52]  // EMPTY_TUPLE, REDUCE
        for (index, (key, tensor)) in stateDict.enumerated() {
            if index % 1000 == 0 { p.bytes.append(0x28) }  // MARK for a batch of SETITEMS
            p.string(key)
            p.global("torch._utils", "_rebuild_tensor_v2")
            p.bytes.append(0x28)  // MARK (arguments)
            p.bytes.append(0x28)  // MARK (persistent id tuple)
            p.string("storage")
            p.global("torch", isInteger(key) ? "LongStorage" : "FloatStorage")
            p.string(String(index))
            p.string("cpu")
            p.int(tensor.count)
            p.bytes += [0x74, 0x51]  // TUPLE, BINPERSID
            p.int(0)
            p.tuple(tensor.shape)
            var strides = [Int](repeating: 1, count: tensor.shape.count)
            for d in stride(from: tensor.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * tensor.shape[d + 1] }
            p.tuple(strides)
            p.bytes.append(0x89)  // NEWFALSE: requires_grad
            p.global("collections", "OrderedDict")
            p.bytes += [0x29, 0x52, 0x74, 0x52]  // EMPTY_TUPLE, REDUCE (hooks); TUPLE, REDUCE
            if index % 1000 == 999 || index == stateDict.count - 1 { p.bytes.append(0x75) }  // SETITEMS
        }
        p.bytes.append(0x2E)  // STOP
        return p.bytes
    }

    private struct Pickle {
        var bytes: [UInt8] = []

        mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }

        mutating func string(_ s: String) {
            let utf8 = Array(s.utf8)
            bytes.append(0x58)  // BINUNICODE
            withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes += $0 }
            bytes += utf8
        }

        mutating func int(_ v: Int) {
            if v >= 0 && v < Int(Int32.max) {
                bytes.append(0x4A)  // BININT
                withUnsafeBytes(of: Int32(v).littleEndian) { bytes += $0 }
            } else {
                bytes += [0x8A, 8]  // LONG1 with 8 bytes
                withUnsafeBytes(of: Int64(v).littleEndian) { bytes += $0 }
            }
        }

        mutating func tuple(_ values: [Int]) {
            if values.isEmpty { bytes.append(0x29); return }
            bytes.append(0x28)
            for v in values { int(v) }
            bytes.append(0x74)
        }
    }

    struct TooLarge: Error {}

    /// A stored (uncompressed) zip with each entry's data 64-byte aligned, as PyTorch writes it
    /// (so it can be memory-mapped), padding carried in an extra field.
    /// The stored (uncompressed) zip of `entries`, as one `Data` (tests build archives with it).
    static func zip(_ entries: [(String, [UInt8])]) throws -> Data {
        var out = Data()
        try zip(entries.map { entry in (entry.0, { entry.1 }) }, to: { out.append(contentsOf: $0) })
        return out
    }

    /// Writes the stored zip of `entries` to `sink`, making each payload only when it is written.
    static func zip(_ entries: [(String, () -> [UInt8])], to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var written = 0, central = Data()
        func le16(_ v: Int, _ d: inout Data) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        func le32(_ v: Int, _ d: inout Data) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { d.append(contentsOf: $0) } }
        func emit(_ d: Data) throws { try d.withUnsafeBytes { try sink($0) }; written += d.count }
        for (name, make) in entries {
            let payload = make()
            guard written < Int(UInt32.max) - payload.count - 4096 else { throw TooLarge() }
            let nameBytes = Array(name.utf8), offset = written, crc = crc32(payload)
            let headerEnd = offset + 30 + nameBytes.count + 4
            let padding = (64 - headerEnd % 64) % 64
            var local = Data()
            le32(0x0403_4B50, &local); le16(20, &local); le16(0, &local); le16(0, &local)
            le16(0, &local); le16(0x21, &local)  // time, date: 1980-01-01
            le32(Int(crc), &local); le32(payload.count, &local); le32(payload.count, &local)
            le16(nameBytes.count, &local); le16(4 + padding, &local)
            local.append(contentsOf: nameBytes)
            le16(0x4246, &local); le16(padding, &local); local.append(Data(count: padding))  // "FB" padding field
            try emit(local)
            try payload.withUnsafeBytes { try sink($0) }
            written += payload.count
            le32(0x0201_4B50, &central); le16(20, &central); le16(20, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0x21, &central); le32(Int(crc), &central); le32(payload.count, &central)
            le32(payload.count, &central); le16(nameBytes.count, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0, &central); le32(0, &central); le32(offset, &central)
            central.append(contentsOf: nameBytes)
        }
        let centralOffset = written
        try emit(central)
        var end = Data()
        le32(0x0605_4B50, &end); le16(0, &end); le16(0, &end); le16(entries.count, &end); le16(entries.count, &end)
        le32(central.count, &end); le32(centralOffset, &end); le16(0, &end)
        try emit(end)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc = crcTable[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
