import Engine
import Foundation
import Imaging
import Runs

/// StarGAN's training data: images with domain labels — a folder per domain (one-of-K, as the
/// reference's `ImageFolder` for RaFD) or an attribute table (multi-label, CelebA's
/// `list_attr_celeba.txt` or a CSV with a header) with the `--selected-attrs` columns — and its
/// data loader's transform: random horizontal flip, centre crop, bilinear resize, [−1, 1].
public final class StarGANDataset: @unchecked Sendable {
    public let files: [String]
    /// One row per file: 0/1 per domain (one-hot for `.domains`).
    public let labels: [[Float]]
    /// The label columns: domain folder names, or the selected attributes in the given order.
    public let domains: [String]
    public let kind: StarGANModel.Labels
    public let cropSize: Int, imageSize: Int, flip: Bool
    /// The table's file names kept out for testing, in the solver's order (empty unless held out).
    public let heldOut: [String]

    /// Which images a dataset serves: those trained on, or the held-out ones.
    public enum Split: Sendable { case train, test }

    /// How many images the solver's CelebA loader keeps for testing (`(i + 1) < 2000`).
    public static let referenceTestCount = 1999

    /// Attribute tables beyond this are refused before they are read (CelebA's is 26 MB).
    static let maxTableBytes = 1 << 30

    /// - Parameters:
    ///   - folder: the images; with no `attributeTable`, one subfolder per domain.
    ///   - attributeTable: CelebA's `list_attr_celeba.txt` format, or CSV with a header row;
    ///     file names are relative to `folder`.
    ///   - selected: the attribute columns to train on (required with a table).
    ///   - holdOut: whether the solver's test images leave a table (`auto`: for CelebA's format).
    ///   - split: `.train`, or `.test` for the held-out images (every image when none is held out:
    ///     the solver tests RaFD on a folder of its own).
    public init(folder: String, attributeTable: String?, selected: [String], cropSize: Int, imageSize: Int,
                flip: Bool, holdOut: TrainingOptions.HoldOut = .none, split: Split = .train) throws {
        guard cropSize > 0, imageSize > 0 else {
            throw TrainingError(.invalidSetting, "--crop-size and --image-size must be positive (got \(cropSize), \(imageSize))")
        }
        (self.cropSize, self.imageSize, self.flip) = (cropSize, imageSize, flip)
        let root = URL(fileURLWithPath: folder)
        if let attributeTable {
            guard !selected.isEmpty else {
                throw TrainingError(.invalidSetting, "\(attributeTable): --selected-attrs names the attribute columns to train on (e.g. Black_Hair Blond_Hair Brown_Hair Male Young)")
            }
            var (rows, celebA) = try Self.readAttributeTable(attributeTable, selected: selected)
            if holdOut == .reference || (holdOut == .auto && celebA) {
                let all = rows.count
                var python = PythonRandom(seed: 1234)
                python.shuffle(&rows)
                let test = min(Self.referenceTestCount, all)
                heldOut = rows[..<test].map(\.file)
                if split == .test {
                    rows.removeLast(all - test)
                } else {
                    rows.removeFirst(test)
                }
                guard !rows.isEmpty else {
                    throw TrainingError(.invalidSetting, "\(attributeTable): the table lists \(all) images and the solver's CelebA split keeps the first \(Self.referenceTestCount) (after Python's random.seed(1234) shuffle) for testing, so none is left to train on; --hold-out none trains on every image")
                }
            } else {
                heldOut = []
            }
            var missing = 0, firstMissing = ""
            for row in rows where !FileManager.default.fileExists(atPath: root.appendingPathComponent(row.file).path) {
                if missing == 0 { firstMissing = row.file }
                missing += 1
            }
            if missing > 0 {
                throw TrainingError(.invalidSetting, "\(attributeTable): \(missing) of its \(rows.count) images are not in \(folder), e.g. \(firstMissing)")
            }
            files = rows.map { root.appendingPathComponent($0.file).path }
            labels = rows.map(\.labels)
            domains = selected
            kind = .attributes
        } else {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { !$0.hasPrefix(".") && (try? root.appendingPathComponent($0).resourceValues(forKeys: [.isDirectoryKey]))?.isDirectory == true }
                .sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            guard names.count >= 2 else {
                throw TrainingError(.invalidSetting, "\(folder): StarGAN needs a subfolder per domain (at least two, found \(names.count)), or --attributes FILE with --selected-attrs")
            }
            var files: [String] = [], labels: [[Float]] = []
            for (k, name) in names.enumerated() {
                let images = try TrainingDataset.images(in: root.appendingPathComponent(name))
                guard !images.isEmpty else { throw TrainingError(.invalidSetting, "\(folder)/\(name): no PNG, JPEG, TIFF or WebP images in this domain") }
                files += images
                labels += Array(repeating: (0..<names.count).map { Float($0 == k ? 1 : 0) }, count: images.count)
            }
            (self.files, self.labels, domains, kind, heldOut) = (files, labels, names, .domains, [])
        }
    }

    public var count: Int { files.count }

    /// One image (1×3×imageSize×imageSize in [−1, 1]) and its labels.
    /// `flip: false` reads the image unflipped whatever the dataset's setting (sample rows).
    public func item(_ index: Int, random: RandomSource, flip: Bool? = nil) throws -> (image: Tensor, labels: [Float]) {
        let decoded = try TrainingDataset.decode(files[index])
        guard decoded.width >= cropSize, decoded.height >= cropSize else {
            throw TrainingError(.invalidSetting, "\(files[index]): \(decoded.width)×\(decoded.height) is smaller than --crop-size \(cropSize)")
        }
        let r = PlanarImage.shorterSide(width: min(cropSize, decoded.width), height: min(cropSize, decoded.height), to: imageSize)
        guard PlanarImage.fits(width: r.width, height: r.height) else {
            throw TrainingError(.invalidSetting, "\(files[index]): --crop-size \(cropSize) and --image-size \(imageSize) would make it \(r.width)×\(r.height), too large an image")
        }
        let flipped = (flip ?? self.flip) && random.nextUnit() < 0.5
        let image = Self.transform(decoded, cropSize: cropSize, imageSize: imageSize, flip: flipped)
        return (try Tensor(normalizing: image, channels: 3), labels[index])
    }

    /// `RandomHorizontalFlip` (decided by the caller), `CenterCrop(crop)`, `Resize(size)`
    /// (bilinear, the shorter side to `size`) as torchvision computes them.
    public static func transform(_ image: PlanarImage, cropSize: Int, imageSize: Int, flip: Bool) -> PlanarImage {
        let flipped = flip ? image.flippedHorizontally() : image
        return flipped.centreCropped(width: min(cropSize, flipped.width), height: min(cropSize, flipped.height))
            .shorterSideResized(to: imageSize)
    }

    /// The `selected` columns of an attribute table, as 0/1 per image (StarGAN keeps `value == '1'`).
    /// The table's rows, and whether it is in CelebA's format (a count line, then the names).
    static func readAttributeTable(_ path: String, selected: [String]) throws -> (rows: [(file: String, labels: [Float])], celebA: Bool) {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard let size else { throw TrainingError(.invalidSetting, "\(path): the attribute table cannot be read") }
        guard size <= maxTableBytes else { throw TrainingError(.invalidSetting, "\(path): \(size) bytes is too large for an attribute table") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TrainingError(.invalidSetting, "\(path): the attribute table is not UTF-8 text")
        }
        let rows = try parseAttributeTable(text, path: path, selected: selected)
        let first = text.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) } ?? ""
        return (rows, !first.contains(","))
    }

    static func parseAttributeTable(_ text: String, path: String, selected: [String]) throws -> [(file: String, labels: [Float])] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first else { throw TrainingError(.invalidSetting, "\(path): the attribute table is empty") }
        let csv = first.contains(",")
        func fields(_ line: String) -> [String] {
            csv ? line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                : line.split(whereSeparator: \.isWhitespace).map(String.init)
        }
        // CelebA: a count, then the attribute names; CSV: a header whose first column names the file.
        let (names, body): ([String], ArraySlice<String>)
        if csv {
            (names, body) = (Array(fields(first).dropFirst()), lines.dropFirst())
        } else {
            guard lines.count >= 2, Int(first) != nil else {
                throw TrainingError(.invalidSetting, "\(path): not an attribute table (CelebA's starts with the image count, then the attribute names; a CSV with a header row)")
            }
            (names, body) = (fields(lines[1]), lines.dropFirst(2))
        }
        let columns = try selected.map { name in
            guard let k = names.firstIndex(of: name) else {
                throw TrainingError(.invalidSetting, "\(path): no attribute '\(name)'; it has: \(names.joined(separator: " "))")
            }
            return k
        }
        var rows: [(file: String, labels: [Float])] = []
        rows.reserveCapacity(body.count)
        for (n, line) in body.enumerated() {
            let f = fields(line)
            guard f.count == names.count + 1 else {
                throw TrainingError(.invalidSetting, "\(path), line \(n + (csv ? 2 : 3)): \(f.count - 1) values for \(names.count) attributes")
            }
            rows.append((f[0], columns.map { f[$0 + 1] == "1" ? 1 : 0 }))
        }
        guard !rows.isEmpty else { throw TrainingError(.invalidSetting, "\(path): the attribute table lists no images") }
        return rows
    }
}
