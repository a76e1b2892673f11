// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Gantry",
    // Linux only: the watch service uses inotify and renameat2, the engine libgomp and oneDNN
    // from Debian. No Apple platform is declared until the package builds there.
    products: [
        .executable(name: "gantry", targets: ["GantryCLI"]),
        .library(name: "AtomicFiles", targets: ["AtomicFiles"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Checkpoints", targets: ["Checkpoints"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Runs", targets: ["Runs"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "ONNXExport", targets: ["ONNXExport"]),
        .library(name: "Distributed", targets: ["Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // The only place that calls oneDNN functions whose signatures differ between 2.x and 3.x.
        .target(
            name: "CDNNL",
            path: "Sources/CDNNL",
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]
        ),
        // Not "CSystem": swift-system (under SwiftNIO) has a target of that name.
        .target(name: "CGantrySystem", path: "Sources/CGantrySystem"),
        // Elementwise kernels built for FMA/AVX2 and chosen at run time by CPUID (the Swift
        // targets are built for baseline x86-64, where a fused multiply-add is a libm call).
        .target(name: "CKernels", path: "Sources/CKernels"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CTIFF", path: "Sources/CTIFF"),
        .systemLibrary(name: "CWebP", path: "Sources/CWebP"),
        // Every file Gantry writes appears whole or not at all; the lowest module, no dependencies.
        .target(name: "AtomicFiles"),
        .target(name: "Engine", dependencies: ["CDNNL"]),
        .target(name: "Imaging", dependencies: ["CTurboJPEG", "CPNG", "CTIFF", "CWebP", "AtomicFiles"]),
        .target(
            name: "Pipeline",
            dependencies: [
                "Engine", "Models", "Imaging", "CGantrySystem", "AtomicFiles", .product(name: "Yams", package: "Yams"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The watch service's HTTP status port: SwiftNIO stays out of the Pipeline library.
        .target(
            name: "WatchStatus",
            dependencies: [
                "Pipeline",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The ranks of an MPI job and their collectives; libmpi is loaded only under a launcher.
        .target(name: "Distributed"),
        .target(name: "Checkpoints", dependencies: ["AtomicFiles"]),
        .target(name: "Models", dependencies: ["Engine", "Checkpoints", "Imaging"]),
        // What a training run is and leaves behind — its options, its folder, reading a trained
        // run back into a generator — below Training, so convert and watch need not link it.
        .target(
            name: "Runs",
            dependencies: ["Models", "Checkpoints", "Imaging", "AtomicFiles", .product(name: "Yams", package: "Yams")]
        ),
        // Generators as ONNX models; onnx.proto's Swift was generated once (Proto/README.md).
        .target(
            name: "ONNXExport",
            dependencies: ["Engine", "Models", "AtomicFiles", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto"]
        ),
        .target(
            name: "Training",
            dependencies: ["Engine", "Models", "Checkpoints", "Imaging", "AtomicFiles", "Runs", "Distributed", "CKernels"]
        ),
        .executableTarget(
            name: "GantryCLI",
            dependencies: [
                "Engine", "Checkpoints", "Models", "Imaging", "Pipeline", "WatchStatus", "Runs", "Training", "ONNXExport", "Distributed", "CGantrySystem", "AtomicFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(name: "TestSupport", dependencies: ["Engine", "Checkpoints", "Models", "Imaging"], path: "Tests/TestSupport"),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"], exclude: ["Fixtures", "make_image_fixtures.py"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Imaging", "Models", "Engine", "AtomicFiles", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
        .testTarget(
            name: "CheckpointsTests", dependencies: ["Checkpoints", "TestSupport"],
            exclude: ["Fixtures", "make_checkpoint_fixtures.py"]
        ),
        .testTarget(name: "CLITests", dependencies: ["GantryCLI", "Distributed", "Checkpoints", "TestSupport"]),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Models", "Checkpoints", "Engine", "TestSupport"]
        ),
        .testTarget(name: "ONNXExportTests", dependencies: ["ONNXExport", "Models", "Engine", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Runs", "Engine", "Checkpoints", "Models", "Imaging", "TestSupport"]),
    ]
)
