import Dispatch

/// Lets a non-Sendable closure cross into `concurrentPerform`. Safe here because every caller
/// writes disjoint slices of freshly allocated buffers per index.
private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}

/// Runs `body(i)` for `0..<count`, across cores when the work is big enough to pay for it.
/// Used for per-plane elementwise loops; `elementsPerItem` estimates each item's cost.
@inline(__always)
func parallelFor(_ count: Int, elementsPerItem: Int, _ body: (Int) -> Void) {
    if count > 1 && count * elementsPerItem >= 1 << 15 {
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(value: body)
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        }
    } else {
        for i in 0..<count { body(i) }
    }
}
