// libFuzzer target: any checkpoint format -> architecture detection -> building the network
// and loading the weights into it (what `gantry inspect` and every pipeline start do).
import Checkpoints
import Foundation
import Models

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchitecture(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let checkpoint = try? Checkpoint.load(data: Data(bytes: data, count: size), path: "fuzz.pth")
    else { return 0 }
    // Shapes and channel counts here come from the file; building the network allocates
    // from them before the strict key/shape comparison can refuse a mismatch.
    _ = try? Generator.load(checkpoint)
    return 0
}
