// libFuzzer target: any checkpoint format -> architecture detection -> building the network
// and loading the weights into it (what `gantry inspect` and every pipeline start do).
import Checkpoints
import Engine
import Foundation
import Models

// The engine keeps up to 2 GB of freed buffers for reuse by the next forward pass. Under
// -rss_limit_mb=2048 that retention alone could be reported as out-of-memory, so it is capped
// to a size that still lets consecutive inputs reuse buffers.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    BufferPool.shared.idleLimit = 256 << 20
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchitecture(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let checkpoint = try? Checkpoint.load(data: Data(bytes: data, count: size), path: "fuzz.pth")
    else { return 0 }
    // Shapes and channel counts here come from the file; building the network allocates
    // from them before the strict key/shape comparison can refuse a mismatch.
    _ = try? Generator.load(checkpoint)
    return 0
}
