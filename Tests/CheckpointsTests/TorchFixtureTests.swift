import Checkpoints
import Foundation
import Testing

/// Every file torch wrote (or that torch.load accepted) must load to exactly what torch saw.
struct TorchFixtureTests {
    static let loadable = [
        "zip_basic.pt", "legacy_basic.pt", "zip_dtypes_proto4.pt", "legacy_dtypes.pt",
        "zip_views.pt", "legacy_views.pt", "legacy_torch03_py2.pt", "zip_cuda.pt", "legacy_cuda.pt",
        "zip_module_prefix.pt", "zip_orig_mod_prefix.pt", "zip_module_orig_mod_prefix.pt",
        "wrapped_netG.pt", "zip_bigendian.pt", "zip64.pt", "basic.safetensors",
    ]

    @Test(arguments: loadable)
    func matchesTorch(_ name: String) throws {
        let expected = try #require(Fixtures.expected.files[name], "expected.json has no entry for \(name)")
        let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url(name))
        #expect(checkpoint.format.rawValue == expected.format)
        #expect(checkpoint.stateDict.keys == expected.keys)
        for key in expected.keys {
            let want = try #require(expected.tensors[key])
            let got = try #require(checkpoint.stateDict[key], "missing \(key)")
            #expect(got.shape == want.shape, "\(key)")
            #expect(got.dtype.rawValue == want.dtype, "\(key)")
            #expect(got.count == got.shape.reduce(1, *), "\(key)")
            // NaN payloads differ between torch's own conversion paths (its vectorised
            // float16 path returns 0x7fffffff); any NaN matches any NaN.
            let bits = got.values.map { $0.isNaN ? Float.nan.bitPattern : $0.bitPattern }
            let wanted = want.bitPatterns.map { Float(bitPattern: $0).isNaN ? Float.nan.bitPattern : $0 }
            #expect(bits == wanted, "\(key): values differ from torch's tensor.float()")
        }
        for note in expected.notes {
            #expect(checkpoint.notes.contains { $0.contains(note) }, "no note mentions \(note): \(checkpoint.notes)")
        }
    }

    @Test func basicFileShapesAndNotes() throws {
        let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url("zip_basic.pt"))
        #expect(checkpoint.path.hasSuffix("zip_basic.pt"))
        #expect(checkpoint.stateDict.keys.first == "0.weight")
        #expect(checkpoint.stateDict["0.weight"]?.shape == [4, 3, 3, 3])
        let counter = try #require(checkpoint.stateDict["1.num_batches_tracked"])
        #expect(counter.shape == [] && counter.dtype == .int64 && counter.values == [7])
        #expect(checkpoint.notes == ["converted 1 int64 tensor to float32"])
    }

    @Test func dtypeConversionNotes() throws {
        let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url("zip_dtypes_proto4.pt"))
        #expect(checkpoint.notes.contains("converted 2 float16 tensors to float32"))
        #expect(checkpoint.notes.contains("converted 1 bfloat16 tensor to float32"))
        #expect(checkpoint.notes.contains("converted 2 int64 tensors to float32"))
        // 2^24 + 1 rounds to nearest-even as torch's .float() does.
        #expect(checkpoint.stateDict["i64"]?.values[2] == 16_777_216)
        #expect(checkpoint.stateDict["f16_nan"]?.values[0].isNaN == true)
    }

    @Test func legacyAndZipAgree() throws {
        for (zip, legacy) in [("zip_basic.pt", "legacy_basic.pt"), ("zip_views.pt", "legacy_views.pt")] {
            let a = try Checkpoint.load(contentsOf: Fixtures.url(zip)).stateDict
            let b = try Checkpoint.load(contentsOf: Fixtures.url(legacy)).stateDict
            #expect(a.keys == b.keys)
            for (key, tensor) in a {
                #expect(tensor.values.map(\.bitPattern) == b[key]?.values.map(\.bitPattern), "\(key)")
            }
        }
    }

    @Test func viewsAreGathered() throws {
        let sd = try Checkpoint.load(contentsOf: Fixtures.url("zip_views.pt")).stateDict
        // base = arange(24) * 0.5 - 3
        #expect(sd["slice_a"]?.values == [-2, -1.5, -1, -0.5, 0, 0.5])
        #expect(sd["slice_b"]?.values == [2, 3.5, 5, 6.5])
        #expect(sd["column"]?.values == [-2.5, 0.5, 3.5, 6.5])
        #expect(sd["expanded"]?.values == [1.5, 1.5, 1.5, 1.5, -2, -2, -2, -2])
        #expect(sd["scalar"]?.shape == [] && sd["scalar"]?.values == [3.25])
        #expect(sd["empty"]?.shape == [0, 3] && sd["empty"]?.count == 0)
    }

    @Test func cudaLocationsAreNoted() throws {
        let zip = try Checkpoint.load(contentsOf: Fixtures.url("zip_cuda.pt"))
        #expect(zip.notes.contains("storages tagged cuda:0 loaded on CPU"))
        let old = try Checkpoint.load(contentsOf: Fixtures.url("legacy_torch03_py2.pt"))
        #expect(old.notes.contains("storages tagged cuda:0 loaded on CPU"))
        #expect(old.format == .pytorchLegacy)
    }

    @Test func prefixesAreStripped() throws {
        let both = try Checkpoint.load(contentsOf: Fixtures.url("zip_module_orig_mod_prefix.pt"))
        #expect(both.stateDict.keys == ["0.weight", "0.bias"])
        #expect(both.notes == ["stripped 'module.' prefix from 2 keys", "stripped '_orig_mod.' prefix from 2 keys"])
    }

    @Test func wrapperIsUnwrapped() throws {
        let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url("wrapped_netG.pt"))
        let note = try #require(checkpoint.notes.first)
        #expect(note.hasPrefix("using the state_dict stored under 'netG'"))
        #expect(note.contains("'optimizer'") && note.contains("'epoch'"))
    }

    @Test func severalStateDictsNeedAnEntry() throws {
        let url = Fixtures.url("wrapped_G_D.pt")
        let error = try #require(checkpointError { try Checkpoint.load(contentsOf: url) })
        #expect(error.code == .notAStateDict)
        #expect(error.message.contains("'G'") && error.message.contains("'D'"))
        let g = try Checkpoint.load(contentsOf: url, entry: "G")
        let want = try #require(Fixtures.expected.files["wrapped_G_D.pt"])
        #expect(g.stateDict.keys == want.keys)
        #expect(g.stateDict["0.weight"]?.values.map(\.bitPattern) == want.tensors["0.weight"]?.bitPatterns)
        let missing = try #require(checkpointError { try Checkpoint.load(contentsOf: url, entry: "netG") })
        #expect(missing.code == .notAStateDict && missing.message.contains("no entry 'netG'"))
        let notTensors = try #require(checkpointError { try Checkpoint.load(contentsOf: url, entry: "step") })
        #expect(notTensors.code == .notAStateDict)
    }

    @Test func formatIsDetectedFromContentNotExtension() throws {
        let dir = try TemporaryDirectory()
        let renamed = try dir.write(try Fixtures.bytes("basic.safetensors"), named: "weights.pth")
        #expect(try Checkpoint.load(contentsOf: renamed).format == .safetensors)
        let legacy = try dir.write(try Fixtures.bytes("legacy_basic.pt"), named: "weights.safetensors")
        #expect(try Checkpoint.load(contentsOf: legacy).format == .pytorchLegacy)
    }
}
