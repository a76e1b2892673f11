// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Gantry",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gantry", targets: ["GantryCLI"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Checkpoints", targets: ["Checkpoints"]),
        .library(name: "Models", targets: ["Models"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The only place that calls oneDNN functions whose signatures differ between 2.x and 3.x.
        .target(
            name: "CDNNL",
            path: "Sources/CDNNL",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]
        ),
        .target(name: "Engine", dependencies: ["CDNNL"]),
        .target(name: "Checkpoints"),
        .target(name: "Models", dependencies: ["Engine", "Checkpoints"]),
        .executableTarget(
            name: "GantryCLI",
            dependencies: [
                "Engine", "Checkpoints", "Models",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TestSupport", dependencies: ["Engine", "Checkpoints", "Models"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
        .testTarget(
            name: "CheckpointsTests", dependencies: ["Checkpoints"],
            exclude: ["Fixtures", "make_checkpoint_fixtures.py"]
        ),
        .testTarget(name: "CLITests", dependencies: ["GantryCLI", "TestSupport"]),
        .testTarget(
            name: "ModelsTests",
            dependencies: ["Models", "Checkpoints", "Engine", "TestSupport"]
        ),
    ]
)
