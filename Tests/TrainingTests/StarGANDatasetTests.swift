import Engine
import Foundation
import Imaging
@testable import Runs
import TestSupport
import Testing
@testable import Training

/// StarGAN's data: its transform against Pillow (as torchvision runs it on PIL images), the two
/// label sources, and their errors.
struct StarGANDatasetTests {
    static let folder = fixturesDirectory.appendingPathComponent("training/stargan_transform")

    static func planar(_ name: String) throws -> PlanarImage {
        PlanarImage(try ImageCodec.decodeFile(atPath: folder.appendingPathComponent(name).path))
    }

    /// Flip, centre crop 178 and bilinear resize to 128 of a 203×190 image: exactly Pillow's
    /// 8-bit result (the resize uses PIL's fixed-point coefficients and rounding).
    @Test(arguments: [false, true])
    func transformMatchesPillow(_ flip: Bool) throws {
        let out = StarGANDataset.transform(try Self.planar("input.png"), cropSize: 178, imageSize: 128, flip: flip)
        let expected = try Self.planar(flip ? "expected_flipped.png" : "expected.png")
        #expect(out.width == 128 && out.height == 128)
        let worst = zip(out.planes.joined(), expected.planes.joined()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 0, "max difference \(worst) levels")
    }

    @Test func celebAAttributeTable() throws {
        let text = """
        3
        5_o_Clock_Shadow Black_Hair Blond_Hair Male Young
        000001.jpg -1  1 -1 -1  1
        000002.jpg -1 -1  1  1 -1
        000003.jpg  1 -1 -1  1  1

        """
        let rows = try StarGANDataset.parseAttributeTable(text, path: "list_attr_celeba.txt", selected: ["Young", "Black_Hair", "Male"])
        #expect(rows.map(\.file) == ["000001.jpg", "000002.jpg", "000003.jpg"])
        #expect(rows.map(\.labels) == [[1, 1, 0], [0, 0, 1], [1, 0, 1]])
        #expect { try StarGANDataset.parseAttributeTable(text, path: "t.txt", selected: ["Red_Hair"]) } throws: {
            "\($0)".contains("no attribute 'Red_Hair'") && "\($0)".contains("Blond_Hair")
        }
        let short = text.replacingOccurrences(of: "000002.jpg -1 -1  1  1 -1", with: "000002.jpg -1 -1")
        #expect { try StarGANDataset.parseAttributeTable(short, path: "t.txt", selected: ["Male"]) } throws: {
            "\($0)".contains("t.txt, line 4: 2 values for 5 attributes")
        }
        #expect(throws: TrainingError.self) { try StarGANDataset.parseAttributeTable("not a table\n", path: "t", selected: ["Male"]) }
    }

    @Test func csvAttributeTable() throws {
        let text = "image_id,Smiling,Male\na.png,1,-1\nb.png,0,1\n"
        let rows = try StarGANDataset.parseAttributeTable(text, path: "attrs.csv", selected: ["Male", "Smiling"])
        #expect(rows.map(\.file) == ["a.png", "b.png"] && rows.map(\.labels) == [[0, 1], [1, 0]])
    }

    @Test func domainFoldersAndAttributeTables() throws {
        let dir = try TemporaryDirectory()
        for (domain, count) in [("zebra", 2), ("horse", 1)] {
            for i in 0..<count { try dir.write("data/\(domain)/\(i).png", try TestImages.png(width: 40, height: 36, seed: i)) }
        }
        let domains = try StarGANDataset(folder: dir.path("data"), attributeTable: nil, selected: [], cropSize: 32, imageSize: 16, flip: true)
        #expect(domains.domains == ["horse", "zebra"] && domains.kind == .domains)
        #expect(domains.labels == [[1, 0], [0, 1], [0, 1]])
        let (image, labels) = try domains.item(1, random: RandomSource(seed: 3))
        #expect(image.shape == [1, 3, 16, 16] && labels == [0, 1])
        #expect(image.values.allSatisfy { (-1...1).contains($0) })

        try dir.write("table.csv", Data("file,Striped\nzebra/0.png,1\nhorse/0.png,0\n".utf8))
        let table = try StarGANDataset(folder: dir.path("data"), attributeTable: dir.path("table.csv"), selected: ["Striped"],
                                       cropSize: 32, imageSize: 16, flip: false)
        #expect(table.kind == .attributes && table.labels == [[1], [0]] && table.count == 2)

        try dir.write("missing.csv", Data("file,Striped\nzebra/0.png,1\nzebra/9.png,1\nzebra/8.png,0\n".utf8))
        #expect { try StarGANDataset(folder: dir.path("data"), attributeTable: dir.path("missing.csv"), selected: ["Striped"],
                                     cropSize: 32, imageSize: 16, flip: false) } throws: { "\($0)".contains("2 of its 3 images are not in") }
        #expect { try StarGANDataset(folder: dir.path("data/zebra"), attributeTable: nil, selected: [], cropSize: 32, imageSize: 16,
                                     flip: false) } throws: { "\($0)".contains("a subfolder per domain") }
        // An image smaller than the crop is named.
        let big = try StarGANDataset(folder: dir.path("data"), attributeTable: nil, selected: [], cropSize: 64, imageSize: 16, flip: false)
        #expect { _ = try big.item(0, random: RandomSource(seed: 1)) } throws: { "\($0)".contains("smaller than --crop-size 64") }
    }

    /// The solver's CelebA loader shuffles the table with Python's random.seed(1234) and keeps the
    /// first 1,999 lines for testing: `auto` does that for CelebA's format (not for CSV), and
    /// the held-out names, the training names and their labels follow CPython's order.
    @Test func celebATablesHoldOutTheSolversTestImages() throws {
        let dir = try TemporaryDirectory()
        let n = 2010
        let order = try #require(try PythonRandomTests.fixture().shuffles["2010"])
        var celebA = "\(n)\nMale Young\n", csv = "file,Male,Young\n"
        for i in 0..<n {
            celebA += "img_\(i).jpg \(i % 3 == 0 ? 1 : -1) 1\n"
            csv += "img_\(i).jpg,\(i % 3 == 0 ? 1 : 0),1\n"
            // Only existence is checked before training reads an image.
            try dir.write("data/img_\(i).jpg", Data())
        }
        try dir.write("list_attr.txt", celebA)
        try dir.write("attrs.csv", csv)
        func dataset(_ table: String, _ holdOut: TrainingOptions.HoldOut) throws -> StarGANDataset {
            try StarGANDataset(folder: dir.path("data"), attributeTable: dir.path(table), selected: ["Male"], cropSize: 8,
                               imageSize: 8, flip: false, holdOut: holdOut)
        }
        let split = try dataset("list_attr.txt", .auto)
        #expect(PythonRandomTests.firstDifference(split.heldOut, order.prefix(1999).map { "img_\($0).jpg" }) == nil)
        #expect(PythonRandomTests.firstDifference(split.files.map { URL(fileURLWithPath: $0).lastPathComponent }, order.dropFirst(1999).map { "img_\($0).jpg" }) == nil)
        #expect(PythonRandomTests.firstDifference(split.labels, order.dropFirst(1999).map { [$0 % 3 == 0 ? 1 : 0] }) == nil)
        #expect(try dataset("list_attr.txt", .none).count == n)
        #expect(try dataset("attrs.csv", .auto).count == n)
        let csvSplit = try dataset("attrs.csv", .reference)
        #expect(csvSplit.count == 11 && csvSplit.heldOut == split.heldOut)
        // A table too small for the split says so and how to train on all of it.
        try dir.write("small.txt", "2\nMale Young\nimg_0.jpg 1 1\nimg_1.jpg -1 1\n")
        #expect { try dataset("small.txt", .auto) } throws: { "\($0)".contains("--hold-out none") }
    }
}
