import CDNNL

/// Runs `body(i)` for `0..<count`, across cores when the work is big enough to pay for it.
/// Used for per-plane elementwise loops; `elementsPerItem` estimates each item's cost.
///
/// The work runs on oneDNN's OpenMP team: a second pool (Dispatch) would fight OpenMP's
/// spin-waiting workers for the same cores between convolutions.
@inline(__always)
func parallelFor(_ count: Int, elementsPerItem: Int, _ body: (Int) -> Void) {
    if count > 1 && count * elementsPerItem >= 1 << 15 {
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { boxed in
                gantry_parallel_for(count, UnsafeMutableRawPointer(mutating: boxed)) { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }
            }
        }
    } else {
        for i in 0..<count { body(i) }
    }
}

/// Runs `body` over `0..<count` in chunks of `chunk` elements, across cores when there is more
/// than one chunk, on the same thread team as the convolutions. For elementwise work outside
/// Engine (an optimizer's update); each chunk must touch only its own elements.
public func forEachChunk(_ count: Int, chunk: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
    let chunk = max(1, chunk)
    parallelFor((count + chunk - 1) / chunk, elementsPerItem: chunk) { k in
        body((k * chunk)..<min(count, (k + 1) * chunk))
    }
}
