import AtomicFiles
import Engine
import Foundation
import Runs

/// One epoch's batches, decoded and augmented on a background thread a few batches ahead of
/// the training step, so the cores never wait for JPEG decoding or resampling.
///
/// The thread alone draws from the data generator while it runs (the epoch's shuffle, then each
/// item's crop/flip and unaligned B index, in order), and each batch carries the generator's
/// state after its items, so a run stopped after any batch can save exactly where its data
/// stream stands even though later batches were already prepared.
///
/// An item that fails to decode is skipped — reported, not fatal — and the batch is filled from
/// the next items, as a run of days should not die on one bad file.
final class Prefetcher: @unchecked Sendable {
    struct Batch {
        /// The items' parts stacked: part k of every item in one N×… tensor.
        var parts: [Tensor]
        /// The epoch's order, and how many of its entries are consumed after this batch.
        var order: [Int]
        var position: Int
        var images: Int
        var randomState: [UInt64]
    }

    private enum Element {
        case batch(Batch)
        case skipped(String)
        case failed(Error)
    }

    /// A rank's part of a data-parallel job: it decodes only its share of each global batch, and
    /// each item's crop and flip come from a generator seeded by (seed, epoch, position in the
    /// epoch), so the draws belong to the global sample whatever rank decodes it.
    struct Shard {
        var rank: Int, ranks: Int
        var seed: UInt64, epoch: Int
    }

    private let dataset: any TrainingData
    private let random: RandomSource
    private let batchSize: Int
    private let shard: Shard?
    /// The epoch the batches belong to (what the dataset's transform may depend on).
    private let epoch: Int
    private let condition = NSCondition()
    private var queue: [Element] = []
    private var producing = true
    private var cancelled = false
    private var joined = false
    private let capacity = 3
    private let done = DispatchSemaphore(value: 0)

    /// Starts the thread: a fresh epoch (`order` nil: shuffled now from `random`) or the rest of
    /// a stopped one (`order` and the entries already consumed).
    init(dataset: any TrainingData, random: RandomSource, batchSize: Int, order: [Int]?, position: Int, shard: Shard? = nil,
         epoch: Int = 1) {
        self.dataset = dataset
        self.epoch = epoch
        self.random = random
        self.batchSize = batchSize
        self.shard = shard
        let thread = Thread { [self] in
            let order = order ?? dataset.epochOrder(random: random)
            if let shard { produce(order: order, from: position, shard: shard) } else { produce(order: order, from: position) }
            condition.lock()
            producing = false
            condition.broadcast()
            condition.unlock()
            done.signal()
        }
        thread.name = "gantry-prefetch"
        thread.start()
    }

    /// The next batch, or nil at the epoch's end; `skipped` hears of every file left out.
    func next(skipped: (String) -> Void) throws -> Batch? {
        while true {
            condition.lock()
            while queue.isEmpty && producing { condition.wait() }
            guard !queue.isEmpty else {
                condition.unlock()
                return nil
            }
            let element = queue.removeFirst()
            condition.broadcast()
            condition.unlock()
            switch element {
            case .batch(let batch): return batch
            case .skipped(let message): skipped(message)
            case .failed(let error): throw error
            }
        }
    }

    /// Stops producing and waits for the thread, after which the data generator is the
    /// caller's again. Safe to call more than once.
    func finish() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        let wait = !joined
        joined = true
        condition.unlock()
        if wait { done.wait() }
    }

    private func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        queue.append(element)
        condition.broadcast()
        return true
    }

    private func produce(order: [Int], from start: Int) {
        var position = start
        while position < order.count {
            var items: [[Tensor]] = []
            while items.count < batchSize && position < order.count {
                let index = order[position]
                position += 1
                do {
                    items.append(try dataset.parts(index, epoch: epoch, random: random))
                } catch {
                    guard push(.skipped("\(error)")) else { return }
                }
            }
            guard !items.isEmpty else { continue }
            do {
                let parts = try items[0].indices.map { k in try stack(items.map { $0[k] }) }
                let batch = Batch(parts: parts, order: order, position: position, images: items.count, randomState: random.state)
                guard push(.batch(batch)) else { return }
            } catch {
                _ = push(.failed(error))
                return
            }
        }
    }

    /// One rank's share of each global batch. A global batch too small to give every rank an
    /// item (the epoch's last, at most) is left out; an item that cannot be read stops the job,
    /// since the ranks' batches must stay in step.
    private func produce(order: [Int], from start: Int, shard: Shard) {
        var position = start
        while position < order.count {
            let n = min(batchSize, order.count - position)
            guard n >= shard.ranks else { return }
            var items: [[Tensor]] = []
            for k in DataParallel.slice(n, rank: shard.rank, ranks: shard.ranks) {
                let p = position + k
                let random = RandomSource(seed: (shard.seed &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(shard.epoch) << 32) ^ UInt64(p))
                do { items.append(try dataset.parts(order[p], epoch: epoch, random: random)) } catch {
                    // A disk fault is not the file's: it is cleared, not the file removed.
                    if let fault = TransientFault.find(in: error) {
                        _ = push(.failed(TrainingError(.readFailed, "\(error) (a disk fault, not bad data: \(fault.remedy), then --continue; the last save is kept)", cause: error)))
                    } else {
                        _ = push(.failed(TrainingError(.invalidSetting, "\(error) (a data-parallel job needs every item readable on every rank: fix or remove it, then --continue)", cause: error)))
                    }
                    return
                }
            }
            position += n
            do {
                let parts = try items[0].indices.map { k in try stack(items.map { $0[k] }) }
                guard push(.batch(Batch(parts: parts, order: order, position: position, images: n, randomState: random.state))) else { return }
            } catch {
                _ = push(.failed(error))
                return
            }
        }
    }

    /// The items' part k as one batch; images of different sizes are the user's to fix.
    private func stack(_ parts: [Tensor]) throws -> Tensor {
        let shape = parts[0].shape
        if let odd = parts.first(where: { $0.shape != shape }) {
            let size = { (s: [Int]) in s.count == 4 ? "\(s[3])×\(s[2])" : "\(s)" }
            throw TrainingError(.invalidSetting, "--batch-size \(batchSize) needs images of one size after preprocessing, but a batch holds \(size(shape)) and \(size(odd.shape)); use --preprocess resize_and_crop or crop, or --batch-size 1")
        }
        return try Tensor(stacking: parts)
    }
}
