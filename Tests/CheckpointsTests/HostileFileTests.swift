import Checkpoints
import Foundation
import Testing
import TestSupport

/// Broken and malicious files: each gives a clear CheckpointError; nothing crashes or runs code.
struct HostileFileTests {
    /// An `os.system('touch <marker>')` reduce, as Python's pickle writes it.
    static func pwnPickle(marker: String, module: String = "posix", name: String = "system") -> [UInt8] {
        var p = PickleBytes()
        p.global(module, name)
        p.mark()
        p.unicode("touch \(marker)")
        p.tuple()
        p.reduce()
        p.stop()
        return p.bytes
    }

    static func freshMarker() -> String { "/tmp/gantry-pwned-\(UUID().uuidString)" }

    @Test(arguments: ["evil_legacy.pt", "evil_zip.pt", "evil_bare_proto4.pkl"])
    func torchMadeEvilPicklesAreRefused(_ name: String) throws {
        let marker = Fixtures.expected.pwnedMarker
        try? FileManager.default.removeItem(atPath: marker)
        let error = try #require(checkpointError { try Checkpoint.load(contentsOf: Fixtures.url(name)) })
        #expect(error.code == .refusedGlobal)
        #expect(error.message.contains("refusing to load 'posix.system'"))
        #expect(error.message.contains("loading never runs code"))
        #expect(error.description.hasPrefix(Fixtures.url(name).path + ": "))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func craftedEvilPicklesAreRefused() throws {
        let marker = Self.freshMarker()
        let pwn = Self.pwnPickle(marker: marker)
        let cases: [(String, [UInt8])] = [
            ("bare.pt", pwn),
            ("legacy.pt", legacyHeader() + pwn),
            ("zip.pt", storedZip([("archive/data.pkl", pwn), ("archive/version", Array("3\n".utf8))])),
            ("eval.pt", Self.pwnPickle(marker: marker, module: "builtins", name: "eval")),
            ("subprocess.pt", Self.pwnPickle(marker: marker, module: "subprocess", name: "check_call")),
        ]
        for (name, bytes) in cases {
            let error = try #require(checkpointError { try load(bytes, name: name) })
            #expect(error.code == .refusedGlobal, "\(name): \(error)")
            #expect(error.description.contains("refusing to load"), "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test(arguments: ["model_object.pt", "model_object_legacy.pt"])
    func pickledModelsAreRefusedWithAHint(_ name: String) throws {
        let error = try #require(checkpointError { try Checkpoint.load(contentsOf: Fixtures.url(name)) })
        #expect(error.code == .refusedGlobal || error.code == .notAStateDict)
        #expect(error.message.contains("torch.save(net.state_dict(), path)"), "\(error)")
    }

    @Test func modelObjectNamesItsClass() throws {
        let error = try #require(checkpointError { try Checkpoint.load(contentsOf: Fixtures.url("model_object.pt")) })
        #expect(error.message.contains("'models.networks.ResnetGenerator'"))
    }

    @Test func torchScriptIsExplained() throws {
        let error = try #require(checkpointError { try Checkpoint.load(contentsOf: Fixtures.url("torchscript.pt")) })
        #expect(error.code == .notAStateDict && error.message.contains("TorchScript"))
    }

    @Test func compressedZipIsRefusedClearly() throws {
        let error = try #require(checkpointError { try Checkpoint.load(contentsOf: Fixtures.url("zip_deflated.pt")) })
        #expect(error.code == .unsupported && error.message.contains("deflate"))
    }

    @Test func unsupportedDTypeIsNamed() throws {
        let error = try #require(checkpointError { try Checkpoint.load(contentsOf: Fixtures.url("zip_uint16_v3.pt")) })
        #expect(error.code == .unsupported && error.message.contains("'u16'") && error.message.contains("uint16"))
    }

    @Test func emptyAndMissingFiles() throws {
        let dir = try TemporaryDirectory()
        let empty = try dir.write([], named: "empty.pth")
        #expect(checkpointError { try Checkpoint.load(contentsOf: empty) }?.code == .empty)
        let missing = dir.url.appendingPathComponent("nope.pt")
        #expect(checkpointError { try Checkpoint.load(contentsOf: missing) }?.code == .unreadable)
        #expect(checkpointError { try Checkpoint.load(contentsOf: dir.url) }?.code == .unreadable)
    }

    @Test func randomBytesAreUnknown() throws {
        var rng = SeededGenerator(state: 42)
        var bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[0] = 0x17
        let error = try #require(checkpointError { try load(bytes, name: "random.pth") })
        #expect(error.code == .unknownFormat)
        #expect(error.description == "random.pth: not a PyTorch (.pt/.pth) or safetensors checkpoint (file starts with bytes 17 \(String(format: "%02x %02x %02x", bytes[1], bytes[2], bytes[3])))")
        let pickleLike: [UInt8] = [0x80, 0x02, 0xFF] + bytes.prefix(100)
        let notTorch = try #require(checkpointError { try load(pickleLike) })
        #expect(notTorch.code == .unknownFormat && notTorch.message.contains("not a torch.save checkpoint"), "\(notTorch)")
        let lfs = Array("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n".utf8)
        #expect(checkpointError { try load(lfs) }?.message.contains("git lfs pull") == true)
    }

    @Test func truncatedZipAtEveryCut() throws {
        let full = try Fixtures.bytes("zip_basic.pt")
        let half = Array(full.prefix(full.count / 2))
        let error = try #require(checkpointError { try load(half) })
        #expect(error.code == .truncated, "\(error)")
        for cut in stride(from: 1, to: full.count, by: 3) {
            _ = checkpointError { try load(Array(full.prefix(cut))) }
        }
    }

    @Test func truncatedLegacyAtEveryCut() throws {
        for name in ["legacy_basic.pt", "legacy_torch03_py2.pt"] {
            let full = try Fixtures.bytes(name)
            for cut in 1..<full.count {
                let error = checkpointError { try load(Array(full.prefix(cut))) }
                #expect(error?.code == .truncated, "cut at \(cut): \(String(describing: error))")
            }
        }
    }

    @Test func centralDirectoryPastTheEnd() throws {
        var bytes = try Fixtures.bytes("zip_basic.pt")
        let eocd = bytes.count - 22
        #expect(Array(bytes[eocd..<(eocd + 4)]) == le32(0x0605_4B50))
        bytes.replaceSubrange((eocd + 16)..<(eocd + 20), with: le32(UInt32(bytes.count + 1000)))
        // torch also writes a zip64 record, whose directory offset takes precedence.
        let zip64 = try #require((0..<(eocd - 4)).last { Array(bytes[$0..<($0 + 4)]) == le32(0x0606_4B50) })
        bytes.replaceSubrange((zip64 + 48)..<(zip64 + 56), with: le64(UInt64(bytes.count + 1000)))
        let error = try #require(checkpointError { try load(bytes) })
        #expect(error.code == .truncated && error.message.contains("central directory"), "\(error)")
        // A local header offset pointing past the end.
        var local = try Fixtures.bytes("zip_basic.pt")
        let cdOffset = Int(local[eocd + 16]) | Int(local[eocd + 17]) << 8 | Int(local[eocd + 18]) << 16
        local.replaceSubrange((cdOffset + 42)..<(cdOffset + 46), with: le32(0x7FFF_FFF0))
        #expect(checkpointError { try load(local) }?.code == .corrupt)
    }

    @Test func hugeExpandedTensorIsRefusedWithoutAllocating() throws {
        // One float, viewed as 2^40 elements with stride 0.
        var p = PickleBytes()
        p.op(0x7D)
        p.unicode("w")
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.mark(); p.unicode("storage"); p.global("torch", "FloatStorage"); p.unicode("0"); p.unicode("cpu"); p.int(1); p.tuple()
        p.op(0x51)
        p.int(0)
        p.op(0x8A, [6] + Array(le64(1 << 40).prefix(6))); p.op(0x85)
        p.int(0); p.op(0x85)
        p.op(0x89)
        p.global("collections", "OrderedDict"); p.op(0x29); p.reduce()
        p.tuple()
        p.reduce()
        p.op(0x73)
        p.stop()
        let zip = storedZip([("a/data.pkl", p.bytes), ("a/data/0", le32(Float(1).bitPattern))])
        let error = try #require(checkpointError { try load(zip) })
        #expect(error.code == .corrupt && error.message.contains("'w'"), "\(error)")
    }

    /// Read in a child `gantry probe` (model: checkpoint reader, then architecture detection and
    /// loading), so a crash fails this test with its input instead of the whole run.
    @Test func randomCorruptionNeverCrashes() throws {
        var rng = SeededGenerator(state: 7)
        var inputs: [(name: String, data: Data)] = []
        for name in ["zip_basic.pt", "legacy_views.pt", "legacy_torch03_py2.pt", "basic.safetensors", "zip64.pt"] {
            let original = try Fixtures.bytes(name)
            for i in 0..<300 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] = Int.random(in: 0...2, using: &rng) == 0 ? 0xFF : UInt8.random(in: 0...255, using: &rng)
                }
                inputs.append(("\(i)-\(name)", Data(bytes)))
            }
        }
        // Either outcome is fine; crashing or hanging is not.
        let findings = try ChildProbe.run(kind: "model", inputs: inputs)
        #expect(findings.isEmpty, "\(findings.map(\.description).joined(separator: "; "))")
    }

    @Test func bigEndianLegacyIsRefused() throws {
        var info = PickleBytes()
        info.op(0x7D); info.unicode("little_endian"); info.op(0x89); info.op(0x73); info.stop()
        let header = Array(legacyHeader().dropLast(4)) + info.bytes   // replace the empty sys_info
        var body = PickleBytes()
        body.op(0x7D); body.stop()
        let error = try #require(checkpointError { try load(header + body.bytes) })
        #expect(error.code == .unsupported && error.message.contains("big-endian"), "\(error)")
    }
}
