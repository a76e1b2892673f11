import Distributed
import Engine
import Foundation
import Models
import Runs

/// Training across the ranks of an MPI job (`mpirun -np N gantry train …`), data parallel as
/// PyTorch's DistributedDataParallel: every rank holds the whole model, trains its share of each
/// global batch (`--batch-size` stays the global batch), and the ranks' gradients are averaged
/// before every optimizer step, so every rank applies the same update and the replicas stay equal.
///
/// What makes N ranks train what one does:
/// - shares: a global batch of n items splits into `split(n)` (even, the first ranks one more);
///   each rank's gradients and losses are weighted by its share (a loss is a mean over the rank's
///   items), so the sum is the global batch's mean;
/// - the sum runs in rank order for every element (`ProcessGroup.sumInRankOrder`), never in the
///   order an MPI algorithm picks, so a result does not change with the library's tuning;
/// - data randomness is drawn per global sample (`Prefetcher`), not per rank;
/// - the weights are broadcast from rank 0 at start, and compared by checksum at every save.
final class DataParallel {
    let group: ProcessGroup
    var rank: Int { group.rank }
    var size: Int { group.size }
    /// Items of the current global batch on each rank.
    private(set) var counts: [Int]
    /// The same, as the recipe's layers read it.
    let shard = BatchShard()

    init(group: ProcessGroup) {
        self.group = group
        counts = Array(repeating: 1, count: group.size)
        let rank = group.rank
        shard.sum = { values in
            var v = values
            do { try group.sumInRankOrder(&v) } catch {
                throw TrainingError(.ranks, "rank \(rank): synchronising BatchNorm's statistics across ranks failed: \(error)", cause: error)
            }
            return v
        }
        shard.gather = { tensor in
            let bytes = tensor.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }
            let all: [[UInt8]]
            do { all = try group.allGather(bytes) } catch {
                throw TrainingError(.ranks, "rank \(rank): gathering the batch's images across ranks failed: \(error)", cause: error)
            }
            let item = tensor.count / max(1, tensor.shape[0])
            var values = [Float](repeating: 0, count: all.reduce(0) { $0 + $1.count } / 4)
            values.withUnsafeMutableBytes { out in
                var offset = 0
                for part in all {
                    out.baseAddress!.advanced(by: offset).copyMemory(from: part, byteCount: part.count)
                    offset += part.count
                }
            }
            return try Tensor(shape: [values.count / max(1, item)] + tensor.shape.dropFirst(), values: values)
        }
    }

    /// The shares of a global batch of `n` items over `ranks`: as even as can be, the first
    /// ranks one more.
    static func split(_ n: Int, ranks: Int) -> [Int] { (0..<ranks).map { n / ranks + ($0 < n % ranks ? 1 : 0) } }

    /// This rank's positions within a global batch of `n` items.
    static func slice(_ n: Int, rank: Int, ranks: Int) -> Range<Int> {
        let shares = split(n, ranks: ranks)
        let start = shares[..<rank].reduce(0, +)
        return start..<(start + shares[rank])
    }

    /// The next iteration trains a global batch of `n` items.
    func begin(globalBatch n: Int) {
        counts = Self.split(n, ranks: size)
        (shard.total, shard.offset) = (n, counts[..<rank].reduce(0, +))
    }

    /// This rank's share of the current global batch.
    var weight: Double { Double(counts[rank]) / Double(max(1, counts.reduce(0, +))) }

    /// The optimizers' `beforeStep`: each parameter's gradient becomes Σ over ranks, in rank
    /// order, of (share × the rank's gradient).
    func averageGradients(_ parameters: [(name: String, variable: Variable)]) throws(TrainingError) {
        let total = parameters.reduce(0) { $0 + $1.variable.data.count }
        var flat = [Float](repeating: 0, count: total)
        let w = Float(weight)
        flat.withUnsafeMutableBufferPointer { out in
            var offset = 0
            for (_, v) in parameters {
                if let g = v.grad {
                    g.withUnsafeBufferPointer { g in for i in 0..<g.count { out[offset + i] = g[i] * w } }
                }
                offset += v.data.count
            }
        }
        do { try group.sumInRankOrder(&flat) } catch {
            throw TrainingError(.ranks, "rank \(rank): summing the gradients across ranks failed: \(error)", cause: error)
        }
        var offset = 0
        for (_, v) in parameters {
            let n = v.data.count
            if v.grad != nil {
                do { v.grad = try Tensor(shape: v.data.shape, values: Array(flat[offset..<(offset + n)])) } catch {
                    throw TrainingError(.shapeMismatch, "\(error)")
                }
            }
            offset += n
        }
    }

    /// The global batch's losses: Σ over ranks of share × the rank's loss (NaN stays NaN); and
    /// whether any rank asks to stop, which rides on the same sum, so that every rank stops after
    /// the same iteration without a collective of its own.
    func average(_ losses: [(name: String, value: Double)], stop: Bool) throws -> (losses: [(name: String, value: Double)], stop: Bool) {
        var values = losses.map { $0.value * weight } + [stop ? 1 : 0]
        do { try group.sumInRankOrder(&values) } catch {
            throw TrainingError(.ranks, "rank \(rank): summing the losses across ranks failed: \(error)", cause: error)
        }
        return (zip(losses, values).map { (name: $0.0.name, value: $0.1) }, values[losses.count] > 0)
    }

    /// Every parameter and buffer of `networks` as rank 0 has them.
    func broadcast(_ networks: [(name: String, module: Module)]) throws {
        let tensors = networks.flatMap { $0.module.namedTensors().map(\.value) }
        var flat: [Float] = []
        flat.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        for t in tensors { flat += t.values }
        do { try group.broadcast(&flat, from: 0) } catch {
            throw TrainingError(.ranks, "rank \(rank): receiving rank 0's weights failed: \(error)", cause: error)
        }
        var offset = 0
        for t in tensors {
            t.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = flat[offset + i] } }
            offset += t.count
        }
    }

    /// A checksum of every parameter and buffer (FNV-1a over their bits), to compare replicas.
    static func checksum(_ networks: [(name: String, module: Module)]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for (_, module) in networks {
            for t in module.namedTensors() {
                t.value.withUnsafeBufferPointer { p in
                    for x in p { h = (h ^ UInt64(x.bitPattern)) &* 0x100_0000_01b3 }
                }
            }
        }
        return h
    }

    /// Stops the job with one error when any rank's weights differ from rank 0's.
    func checkReplicas(_ networks: [(name: String, module: Module)], after iterations: Int) throws {
        let mine = Self.checksum(networks)
        let all: [[UInt8]]
        do { all = try group.allGather(withUnsafeBytes(of: mine.littleEndian) { Array($0) }) } catch {
            throw TrainingError(.ranks, "rank \(rank): comparing the weights across ranks failed: \(error)", cause: error)
        }
        let sums = all.map { $0.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }
        if let bad = sums.indices.first(where: { sums[$0] != sums[0] }) {
            throw TrainingError(.ranks, "after iteration \(iterations) rank \(bad)'s weights differ from rank 0's (checksums \(String(sums[bad], radix: 16)) and \(String(sums[0], radix: 16))): the replicas drifted apart; nothing was saved over the last checkpoint")
        }
    }

    /// Stops the job with one error when the ranks' `what` (options, data list, version) differ.
    /// The ranks exchange a digest of 8 bytes; only when the digests differ are the texts
    /// gathered, to name the first line that differs (a data list of a million files is 50 MB
    /// on every rank, which a job that agrees never pays).
    func checkSame(_ text: String, what: String, hint: String) throws {
        func gather(_ bytes: [UInt8]) throws -> [[UInt8]] {
            do { return try group.allGather(bytes) } catch {
                throw TrainingError(.ranks, "rank \(rank): comparing \(what) across ranks failed: \(error)", cause: error)
            }
        }
        let digest = Self.fnv(text.utf8)
        let digests = try gather(withUnsafeBytes(of: digest.littleEndian) { Array($0) })
        guard Set(digests).count > 1 else { return }
        // Each text behind its host's name, so rank 0 can say where the odd one runs.
        let tagged = try gather(Array((group.host + "\u{0}" + text).utf8)).map { String(decoding: $0, as: UTF8.self) }
        let hosts = tagged.map { String($0.prefix { $0 != "\u{0}" }) }
        let texts = tagged.map { String($0.drop { $0 != "\u{0}" }.dropFirst()) }
        if let bad = texts.indices.first(where: { texts[$0] != texts[0] }) {
            let a = texts[0].split(separator: "\n"), b = texts[bad].split(separator: "\n")
            let first = zip(a, b).first { $0 != $1 }.map { "rank 0: \($0.0); rank \(bad): \($0.1)" } ?? "rank 0 has \(a.count) lines, rank \(bad) \(b.count)"
            throw TrainingError(.ranks, "rank \(bad) (on \(hosts[bad])) differs from rank 0 in its \(what) (\(first)): \(hint)")
        }
    }

    /// FNV-1a, 64 bits: a checksum to compare copies, not a defence against forgery.
    static func fnv<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

extension DataParallel {
    /// What a data-parallel run needs of its options on top of `TrainingOptions.validate`.
    func validate(_ options: TrainingOptions) throws {
        guard size > 1 else { return }
        // Each of these would make N ranks train something else than one process: refused
        // until built, rather than trained differently without a word.
        let notYet: String? = switch options.model {
        case .cut, .fastcut:
            "\(options.model.rawValue) (its patch draws and NCE terms across ranks are not yet checked against one process)"
        case _ where options.ganMode == .wgangp && options.norm == .batch:
            "--gan-mode wgangp with --norm batch (the penalty's second derivative through synchronised BatchNorm is not built; use --norm instance or none)"
        default: nil
        }
        if let notYet {
            throw TrainingError(.invalidSetting, "training on \(size) ranks: \(notYet); run one rank (without mpirun, or -np 1) for now")
        }
        guard options.batchSize % size == 0 else {
            throw TrainingError(.invalidSetting, "--batch-size \(options.batchSize) is the global batch and must split evenly over the \(size) ranks: use a multiple of \(size) (e.g. \(size * max(1, (options.batchSize + size - 1) / size))), or as many ranks as divide \(options.batchSize)")
        }
    }

    /// Shares every rank's outcome: when any rank failed, every rank throws the first failure
    /// (by rank), named with its rank, so rank 0 can say it and every rank exits non-zero.
    func agree(error: Error?) throws { try Self.agree(group, error: error) }

    /// The agreed error keeps the failing rank's code as its cause (a disk fault stays one).
    static func agree(_ group: ProcessGroup, error: Error?) throws {
        let code = (error as? TrainingError)?.code.rawValue ?? ""
        let mine = error.map { "E" + group.host + "\u{0}" + code + "\u{0}" + "\($0)" } ?? ""
        let all: [[UInt8]]
        do { all = try group.allGather(Array(mine.utf8)) } catch {
            throw TrainingError(.ranks, "rank \(group.rank): exchanging status with the other ranks failed: \(error)", cause: error)
        }
        let statuses = all.map { String(decoding: $0, as: UTF8.self) }
        if let failed = statuses.indices.first(where: { statuses[$0].hasPrefix("E") }) {
            let fields = statuses[failed].dropFirst().split(separator: "\u{0}", maxSplits: 2, omittingEmptySubsequences: false)
            let (host, message) = (fields[0], fields.count > 2 ? String(fields[2]) : "")
            if failed == group.rank, let error, group.size == 1 { throw error }
            let cause = fields.count > 2 ? TrainingError.Code(rawValue: String(fields[1])).map { TrainingError($0, message) } : nil
            // The same failure everywhere (a bad option, a missing folder) needs no rank.
            let everywhere = statuses.allSatisfy { $0.drop { $0 != "\u{0}" } == statuses[failed].drop { $0 != "\u{0}" } }
            throw TrainingError(.ranks, everywhere ? message : "rank \(failed) of \(group.size) (on \(host)): \(message)", cause: cause)
        }
    }

    /// Before the first iteration: the ranks must run the same binary with the same options on
    /// the same data, then take rank 0's weights.
    func join(_ trainer: Trainer) throws {
        try checkSame(Self.binaryFingerprint(), what: "gantry binary", hint: "run the same gantry build (the same container image) on every host")
        var options = trainer.options
        // Hosts may have other core counts and mount the data elsewhere (its files are
        // compared below); only rank 0 writes the run folder.
        (options.threads, options.data, options.run) = (nil, "", "")
        try checkSame(options.yaml, what: "options", hint: "every rank must be started with the same command line")
        let root = trainer.options.data
        let data = trainer.recipe.data.fileList.map { file -> String in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? -1
            let relative = file.hasPrefix(root) ? String(file.dropFirst(root.count)) : file
            return "\(relative) \(size) bytes"
        }
        try checkSame("\(data.count) files\n" + data.joined(separator: "\n"), what: "data under --data",
                      hint: "every host needs the same files (names and sizes) under --data")
        try broadcast(trainer.recipe.networks)
        // A fresh run's average starts from the broadcast weights; a continued one was read from
        // the same saved file on every rank.
        if !trainer.options.continueTraining { trainer.average?.reset() }
        for o in trainer.recipe.optimizers { o.optimizer.beforeStep = { [self] p throws(TrainingError) in try averageGradients(p) } }
    }

    /// The running executable's version, size and checksum.
    static func binaryFingerprint() -> String {
        let path = CommandLine.arguments.first.flatMap { $0.contains("/") ? $0 : nil } ?? "/proc/self/exe"
        guard let data = FileManager.default.contents(atPath: "/proc/self/exe") ?? FileManager.default.contents(atPath: path) else {
            return "unreadable executable"
        }
        let h = data.withUnsafeBytes { fnv($0.bindMemory(to: UInt8.self)) }
        return "executable of \(data.count) bytes, checksum \(String(h, radix: 16))"
    }
}
