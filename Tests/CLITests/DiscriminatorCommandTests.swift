import Foundation
import Testing
import TestSupport

/// Discriminator checkpoints on the command line: `inspect` describes them, and every
/// generator-only command refuses them in one line that says what they are.
struct DiscriminatorCommandTests {
    static func fixture(_ name: String) -> String { discriminatorFixturesDirectory.appendingPathComponent(name).path }

    @Test func inspectDescribesADiscriminator() throws {
        let r = try runGantry(["inspect", Self.fixture("basic_batch_in6.pth")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("NLayerDiscriminator"))
        #expect(r.stdout.contains("n_layers 3, ndf 8, norm batch"))
        #expect(r.stdout.contains("6 in"))
        #expect(r.stdout.contains("45,033"))
        #expect(r.stdout.contains("256×256 → 30×30"))
    }

    @Test func inspectJSONForStarGAN() throws {
        let r = try runGantry(["inspect", "--json", Self.fixture("stargan_d32.pth")])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["kind"] as? String == "discriminator")
        #expect(obj["family"] as? String == "stargan")
        #expect(obj["parameters"] as? Int == 12_504)
        let arch = try #require(obj["architecture"] as? [String: Any])
        #expect(arch["imageSize"] as? Int == 32 && arch["cDim"] as? Int == 3 && arch["repeatNum"] as? Int == 3)
        let generator = try runGantry(["inspect", "--json", fixturesDirectory.appendingPathComponent("stargan_c5.pth").path])
        #expect(generator.stdout.contains("\"kind\" : \"generator\""))
    }

    @Test func generatorCommandsRefuseDiscriminatorsInOneLine() throws {
        let dir = try TemporaryDirectory()
        try dir.write("in/a.png", TestImages.png(width: 32, height: 32))
        let cases: [(String, String)] = [("basic_none_in3.pth", "NLayerDiscriminator"), ("pixel_batch_in6.pth", "PixelDiscriminator"),
                                         ("stargan_d32.pth", "StarGAN Discriminator")]
        for (file, name) in cases {
            let convert = try runGantry(["convert", dir.path("in"), "-m", Self.fixture(file), "-o", dir.path("out")])
            let forward = try runGantry(["forward", Self.fixture(file), Self.fixture("stargan_d32.io.safetensors"), dir.path("y.safetensors")])
            for r in [convert, forward] {
                #expect(r.status == 1, "\(file): \(r.stderr)")
                let lines = r.stderr.split(separator: "\n")
                #expect(lines.count == 1, "\(file): \(r.stderr)")
                #expect(r.stderr.contains(name) && r.stderr.contains("needs a generator"), "\(r.stderr)")
                #expect(!r.stderr.contains("not a pix2pix/CycleGAN or StarGAN generator"))
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("out/a.png")))
    }

    @Test func overridesDoNotApplyToDiscriminators() throws {
        let r = try runGantry(["inspect", "--ngf", "8", Self.fixture("pixel_instance_in3.pth")])
        #expect(r.status == 1)
        #expect(r.stderr.contains("discriminator"))
    }
}
