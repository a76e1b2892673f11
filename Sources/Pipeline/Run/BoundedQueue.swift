import Foundation

/// A blocking FIFO with a capacity: producers wait when it is full (back-pressure keeps decoded
/// images from piling up in memory), consumers wait when it is empty until it is closed.
final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    private let capacity: Int
    private let condition = NSCondition()

    init(capacity: Int) { self.capacity = max(1, capacity) }

    private var count: Int { items.count - head }

    func put(_ item: Element) {
        condition.lock()
        while count >= capacity && !closed { condition.wait() }
        items.append(item)
        condition.broadcast()
        condition.unlock()
    }

    /// The next element, or nil once the queue is closed and drained.
    func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && !closed { condition.wait() }
        return popLocked()
    }

    /// The next element if one is waiting and satisfies `predicate`; never blocks.
    func take(if predicate: (Element) -> Bool) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        guard count > 0, predicate(items[head]) else { return nil }
        return popLocked()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    private func popLocked() -> Element? {
        guard count > 0 else { return nil }
        let item = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return item
    }
}

/// Runs `body` on `count` new threads and returns a function that waits for all of them.
func spawn(_ count: Int, name: String, _ body: @escaping @Sendable (Int) -> Void) -> () -> Void {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.name = "\(name)-\(i)"
        thread.stackSize = 8 << 20
        thread.start()
    }
    return { group.wait() }
}
