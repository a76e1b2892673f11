import AtomicFiles
import Foundation

/// What happened to one input, as reported per file (`--report`, `--verbose`) and summed at the end.
public struct ItemResult: Sendable, Encodable {
    /// `notDone`: never finished because the run stopped first (a signal, or a transient fault on
    /// the output side such as a full disk); a rerun with `--skip-existing` does it.
    public enum Status: String, Sendable, Encodable { case converted, skipped, failed, notDone = "not_done" }

    public var input: String
    public var output: String?
    public var status: Status
    /// Why it was skipped or failed: one line naming what is wrong.
    public var error: String?
    /// Something the user should know about a converted file (a multi-page TIFF's other pages).
    public var note: String?
    public var width: Int?
    public var height: Int?
    /// Computed layer by layer over row bands (`StreamedForward`) for want of memory.
    public var streamed: Bool?
    public var decodeMilliseconds: Double?
    public var inferenceMilliseconds: Double?
    public var encodeMilliseconds: Double?
    /// The transient fault that kept it from being written (not in the report: `error` says it).
    public var fault: TransientFault?

    enum CodingKeys: String, CodingKey {
        case input, output, status, error, note, width, height, streamed
        case decodeMilliseconds = "decode_ms", inferenceMilliseconds = "inference_ms", encodeMilliseconds = "encode_ms"
    }

    public init(input: String, output: String?, status: Status, error: String? = nil) {
        self.input = input
        self.output = output
        self.status = status
        self.error = error
    }
}

/// Receives results as they happen (progress display, report file). Called from worker threads.
public protocol ConvertObserver: AnyObject, Sendable {
    func finished(_ result: ItemResult)
}

/// Totals for the end-of-run summary and the exit status.
public struct ConvertSummary: Sendable {
    public var converted = 0
    public var skipped = 0
    public var failed = 0
    public var notDone = 0
    /// The transient fault on the output side that stopped the run (a full disk, an I/O error,
    /// a read-only or vanished folder), nil when none did.
    public var fault: TransientFault?
    public var seconds: Double = 0
    public var interrupted = false

    public init() {}
}

func milliseconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}
