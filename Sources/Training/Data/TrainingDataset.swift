import Engine
import Foundation
import Imaging
import Runs

/// A training set in one of the reference's layouts, listed and checked before training starts.
///
/// - `aligned` (pix2pix): `DATA/train/*` images with A and B side by side (A the left half).
/// - `unaligned` (CycleGAN): `DATA/trainA/*` and `DATA/trainB/*`, any counts.
/// - `paired` (a Gantry extra): `DATA/A/*` and `DATA/B/*` with the same file names.
/// - `colorization`: colour photos in `DATA/train/*` (or in `DATA` itself); each gives L as the
///   input and ab as the target (`Tensor.colorizationPair`).
///
/// Files are PNG, JPEG, TIFF and WebP images found under the folder and its subfolders, sorted by path as
/// the reference's `sorted(make_dataset(...))` does, then cut to `--max-dataset-size` (the
/// reference cuts in directory-walk order, which depends on the file system).
public final class TrainingDataset: @unchecked Sendable {
    public enum Layout: String, Sendable { case aligned, unaligned, paired, colorization }

    public let layout: Layout
    /// Aligned: the AB images. Otherwise the A folder's images.
    public let filesA: [String]
    /// Unaligned and paired: the B folder's images (empty for aligned).
    public let filesB: [String]
    public let transform: ReferenceTransform
    /// CUT's fine-tuning transform: once the epoch passes `--n-epochs`, its unaligned dataset
    /// loads at `--crop-size` (`load_size = crop_size`), so the random crops stop (nil: other
    /// recipes, which keep one transform).
    let decayTransform: ReferenceTransform?
    public let options: TrainingOptions

    static let extensions = Set(ImageFormat.extensions.keys)

    /// Lists `options.data`, recognises its layout and checks every file's header: readable,
    /// and large enough for the crop. Throws a `TrainingError` naming the folder or file.
    public init(_ options: TrainingOptions) throws {
        self.options = options
        transform = ReferenceTransform(options)
        var fineTuning = options
        fineTuning.loadSize = options.cropSize
        decayTransform = options.model.isContrastive ? ReferenceTransform(fineTuning) : nil
        let root = URL(fileURLWithPath: options.data)
        func dir(_ name: String) -> URL? {
            var isDir: ObjCBool = false
            let url = root.appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue ? url : nil
        }
        let limit = options.maxDatasetSize ?? Int.max
        if options.model == .colorization {
            layout = .colorization
            // The reference reads DATA/train; photos straight in DATA train too, but never its
            // other phases' folders (test/, val/), whatever lies below them.
            let files = try dir("train").map { try Self.images(in: $0) } ?? Self.images(in: root).filter { path in
                let first = String(path.dropFirst(root.path.count)).split(separator: "/").first.map(String.init) ?? ""
                return !["test", "val"].contains(first)
            }
            filesA = Array(files.prefix(limit))
            filesB = []
            if filesA.isEmpty {
                throw TrainingError(.invalidSetting, "\(options.data): no PNG, JPEG, TIFF or WebP photos found (in train/ or the folder itself)")
            }
        } else if let train = dir("train") {
            layout = .aligned
            filesA = Array(try Self.images(in: train).prefix(limit))
            filesB = []
        } else if let a = dir("trainA"), let b = dir("trainB") {
            layout = .unaligned
            filesA = Array(try Self.images(in: a).prefix(limit))
            filesB = Array(try Self.images(in: b).prefix(limit))
        } else if let a = dir("A"), let b = dir("B") {
            layout = .paired
            let (la, lb) = (try Self.images(in: a), try Self.images(in: b))
            let namesA = la.map { String($0.dropFirst(a.path.count)) }, namesB = lb.map { String($0.dropFirst(b.path.count)) }
            if namesA != namesB {
                let missing = Set(namesA).symmetricDifference(namesB).sorted().first ?? "?"
                throw TrainingError(.invalidSetting, "\(options.data): A/ and B/ must hold the same file names; '\(missing.dropFirst())' is in only one of them")
            }
            filesA = Array(la.prefix(limit))
            filesB = Array(lb.prefix(limit))
        } else {
            throw TrainingError(.invalidSetting, "\(options.data): no training images found: expected train/ (A|B side by side), trainA/ and trainB/, or A/ and B/ with matching names")
        }
        let folders = layout == .aligned ? ("train", "") : (layout == .paired ? ("A", "B") : ("trainA", "trainB"))
        if filesA.isEmpty && layout != .colorization { throw TrainingError(.invalidSetting, "\(options.data)/\(folders.0) holds no PNG, JPEG, TIFF or WebP images") }
        if [.unaligned, .paired].contains(layout) && filesB.isEmpty {
            throw TrainingError(.invalidSetting, "\(options.data)/\(folders.1) holds no PNG, JPEG, TIFF or WebP images")
        }
        for file in filesA + filesB { try check(file) }
    }

    /// Images per epoch: the reference's `len(dataset)` (the larger folder when unaligned).
    public var count: Int { layout == .unaligned ? max(filesA.count, filesB.count) : filesA.count }

    /// The order of one epoch: in order with `--serial-batches`, else shuffled from `random`.
    public func epochOrder(random: RandomSource) -> [Int] {
        var order = Array(0..<count)
        guard !options.serialBatches else { return order }
        // Fisher–Yates from our seeded source: the same seed gives the same epochs.
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, ReferenceTransform.uniform(0...i, random))
        }
        return order
    }

    /// One training pair after `--direction`: `input` (real_A, `--input-nc` planes) and
    /// `target` (real_B, `--output-nc` planes), each 1×C×H×W in [-1, 1].
    /// `epoch` matters to CUT only (see `decayTransform`).
    public func item(_ index: Int, random: RandomSource, epoch: Int = 1) throws -> (input: Tensor, target: Tensor, paths: [String]) {
        let transform = epoch > options.nEpochs ? decayTransform ?? self.transform : self.transform
        let (a, b, paths): (PlanarImage, PlanarImage, [String])
        let aToB = options.direction == .aToB
        let (channelsA, channelsB) = aToB ? (options.inputNC, options.outputNC) : (options.outputNC, options.inputNC)
        // get_transform converts to grey before it resizes, and resizing rounds: the order shows.
        func grey(_ image: PlanarImage, _ channels: Int) -> PlanarImage {
            channels < image.channels ? image.adaptingChannels(to: channels) : image
        }
        switch layout {
        case .colorization:
            // PIL's convert('RGB'), the transform on the RGB image, then skimage's rgb2lab.
            let photo = try Self.decode(filesA[index]).adaptingChannels(to: 3)
            let p = transform.parameters(width: photo.width, height: photo.height, random: random)
            let pair = try Tensor.colorizationPair(transform.apply(photo, p))
            return (pair.l, pair.ab, [filesA[index]])
        case .aligned:
            let ab = try Self.decode(filesA[index])
            let half = ab.width / 2
            let p = transform.parameters(width: half, height: ab.height, random: random)
            a = transform.apply(grey(ab.cropped(x: 0, y: 0, width: half, height: ab.height), channelsA), p)
            b = transform.apply(grey(ab.cropped(x: half, y: 0, width: half, height: ab.height), channelsB), p)
            paths = [filesA[index]]
        case .paired:
            let (ia, ib) = (try Self.decode(filesA[index]), try Self.decode(filesB[index]))
            let p = transform.parameters(width: ia.width, height: ia.height, random: random)
            (a, b, paths) = (transform.apply(grey(ia, channelsA), p), transform.apply(grey(ib, channelsB), p), [filesA[index], filesB[index]])
        case .unaligned:
            let pathA = filesA[index % filesA.count]
            let indexB = options.serialBatches ? index % filesB.count : ReferenceTransform.uniform(0...(filesB.count - 1), random)
            let (ia, ib) = (try Self.decode(pathA), try Self.decode(filesB[indexB]))
            a = transform.apply(grey(ia, channelsA), transform.parameters(width: ia.width, height: ia.height, random: random))
            b = transform.apply(grey(ib, channelsB), transform.parameters(width: ib.width, height: ib.height, random: random))
            paths = [pathA, filesB[indexB]]
        }
        let (input, target) = aToB ? (a, b) : (b, a)
        return (try Tensor(normalizing: input, channels: options.inputNC),
                try Tensor(normalizing: target, channels: options.outputNC), paths)
    }

    private func check(_ file: String) throws {
        let header: ImageHeader
        do {
            header = try ImageCodec.readHeader(try Data(contentsOf: URL(fileURLWithPath: file)), path: file)
        } catch let error as ImageError {
            throw TrainingError(.invalidSetting, "\(error)")
        } catch {
            throw TrainingError(.invalidSetting, "\(file): cannot be read (\(error.localizedDescription))")
        }
        let swaps = (5...8).contains(header.orientation)
        var (w, h) = swaps ? (header.height, header.width) : (header.width, header.height)
        if layout == .aligned { w /= 2 }
        let resized = transform.resized(w, h)
        guard PlanarImage.fits(width: resized.0, height: resized.1) else {
            throw TrainingError(.invalidSetting, "\(file): --preprocess \(options.preprocess.rawValue) with --load-size \(options.loadSize) would resize it to \(resized.0)×\(resized.1), too large an image")
        }
        let out = transform.outputSize(width: w, height: h)
        let crops = [.resizeAndCrop, .crop, .scaleWidthAndCrop].contains(options.preprocess)
        if out.width < 4 || out.height < 4 || (crops && (out.width < options.cropSize || out.height < options.cropSize)) {
            throw TrainingError(.invalidSetting, "\(file): \(w)×\(h)\(layout == .aligned ? " per half" : "") is too small for --crop-size \(options.cropSize) with --preprocess \(options.preprocess.rawValue)")
        }
    }

    static func decode(_ file: String) throws -> PlanarImage {
        let image = try ImageCodec.decodeFile(atPath: file)
        let planar = PlanarImage(image)
        // PIL's convert('RGB') drops alpha rather than compositing it.
        return image.hasAlpha ? planar.adaptingChannels(to: image.colorChannels) : planar
    }

    /// PNG, JPEG, TIFF and WebP files under `folder`, recursively, sorted by path.
    static func images(in folder: URL) throws -> [String] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw TrainingError(.invalidSetting, "\(folder.path): cannot be listed")
        }
        var out: [String] = []
        for case let url as URL in walker where extensions.contains(url.pathExtension.lowercased()) {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true { out.append(url.path) }
        }
        // Python compares strings by code point; so does this.
        return out.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }
}
