import Foundation
import Models

/// How many input pixels one generator pass may take within a memory limit.
///
/// Working memory grows with the widest full-resolution layers: with banded convolutions the
/// tensors alive at the peak measured about 900 bytes per input pixel for resnet_9blocks (ngf 64)
/// and 450 for unet_256 at 1024×768 (`gantry bench`, "peak tensors"), i.e. roughly 16 and 8 bytes
/// per pixel per ngf; freed buffers kept for reuse (`BufferPool`) come on top.
public struct MemoryBudget: Sendable, Equatable {
    /// Bytes the process may use for one generator pass, weights included.
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    /// More than any machine has (1 PiB); larger values ("inf", "1e30G") are refused, not wrapped.
    public static let maxBytes = 1 << 50

    /// Parses "4G", "512M", "800000000"; nil for anything that is not a positive size up to `maxBytes`.
    public static func parse(_ text: String) -> MemoryBudget? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1 << 30),
                                      ("MB", 1 << 20), ("KB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        var number = Substring(t), unit = 1
        if let (suffix, u) = units.first(where: { t.hasSuffix($0.0) }) {
            number = t.dropLast(suffix.count)
            unit = u
        }
        // Double(...) accepts "inf", "nan" and "1e30": keep the product finite and in range
        // before converting, since Int(Double) traps on anything it cannot represent.
        guard let v = Double(number), v.isFinite, v > 0 else { return nil }
        let bytes = v * Double(unit)
        guard bytes >= 1, bytes <= Double(maxBytes) else { return nil }
        return MemoryBudget(bytes: Int(bytes))
    }

    /// 70% of the memory available now: Linux `MemAvailable`, or the container's cgroup limit
    /// when that is lower (inside a container /proc/meminfo shows the host's memory); 4 GB where
    /// neither can be read.
    public static var automatic: MemoryBudget {
        var available: Int?
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first ?? "") {
            available = kb * 1024
        }
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
               let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit < (1 << 50) {
                available = min(available ?? limit, limit)
            }
        }
        return MemoryBudget(bytes: (available ?? (6 << 30)) / 10 * 7)
    }

    static func bytesPerPixel(_ a: GeneratorArchitecture) -> Int {
        (a.family == .unet ? 8 : 16) * a.ngf
    }

    /// Freed buffers kept for reuse: a quarter of the budget, at most 2 GB.
    public var poolShare: Int { min(2 << 30, bytes / 4) }

    /// What is left for activations once the weights (twice: PyTorch's layout and oneDNN's),
    /// ~200 MB of libraries and caches, and the buffer pool's share are counted (may be ≤ 0).
    public func workingBytes(parameterCount: Int) -> Int {
        bytes - (parameterCount * 8 + (200 << 20) + poolShare)
    }

    /// Largest pixel count a single pass may take for `architecture` with `parameterCount` weights.
    public func pixelLimit(for architecture: GeneratorArchitecture, parameterCount: Int) -> Int {
        max(64 * 64, workingBytes(parameterCount: parameterCount) / Self.bytesPerPixel(architecture))
    }
}

