import Foundation

/// The `gantry` executable built beside the test runner.
public let gantryExecutable: URL = {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    // The runner may sit inside a bundle directory (Foo.xctest/...) below the products folder.
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("gantry").path), dir.path != "/" {
        dir.deleteLastPathComponent()
    }
    return dir.appendingPathComponent("gantry")
}()

/// Output of one run of a command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `gantry` with `arguments` and waits for it.
public func runGantry(_ arguments: [String], environment: [String: String]? = nil) throws -> CommandResult {
    try runCommand(gantryExecutable, arguments, environment: environment)
}

/// Runs `executable` with `arguments` (the environment plus `environment`), waits for it and
/// collects both outputs.
public func runCommand(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain stderr on another thread while reading stdout, so a chatty child never blocks on a full pipe.
    let errBox = DataBox()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errBox.data = err.fileHandleForReading.readDataToEndOfFile()
        done.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errBox.data, as: UTF8.self))
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// The Python with torch that the PyTorch cross-checks run (`GANTRY_TORCH_PYTHON`, e.g.
/// /work/torchenv/bin/python). Without it the check is skipped, and says so in the test output:
/// a check that cannot run never passes silently.
public func torchPython(for check: String) -> URL? {
    guard let python = ProcessInfo.processInfo.environment["GANTRY_TORCH_PYTHON"], !python.isEmpty else {
        print("SKIPPED \(check): GANTRY_TORCH_PYTHON is not set, so the PyTorch side of this check did not run (set it to a Python with torch to run it)")
        return nil
    }
    return URL(fileURLWithPath: python)
}

/// The Python with onnx and onnxruntime that the ONNX checks run (`GANTRY_ONNX_PYTHON`; `.ci/run`
/// makes one). Without it the check says, in the test output, that its onnxruntime part did not run.
public func onnxPython(for check: String) -> URL? {
    guard let python = ProcessInfo.processInfo.environment["GANTRY_ONNX_PYTHON"], !python.isEmpty else {
        print("SKIPPED (onnxruntime part) \(check): GANTRY_ONNX_PYTHON is not set, so onnx.checker and onnxruntime did not run here")
        return nil
    }
    return URL(fileURLWithPath: python)
}
