// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "shift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "shift", targets: ["shift"]),
        .executable(name: "shiftctl", targets: ["shiftctl"]),
        .executable(name: "shift-bench", targets: ["shift-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        .target(name: "Rollout"),
        .target(name: "TemplateModel", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Starts each function process under a keeper process that kills everything the function started
        // when shift dies, SIGKILL included. In C because the keeper is a fork that never execs: it may
        // only make async-signal-safe calls, which Swift code cannot promise; posix_spawn cannot do it.
        .target(name: "CProcessKeeper"),
        .target(
            name: "Runtime",
            dependencies: [
                "CProcessKeeper",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The deployment engine: plan, executor and the Target protocol, with the local runtime as its first target.
        .target(name: "DeploymentEngine", dependencies: ["Rollout", "TemplateModel", "Runtime"]),
        // Reports of deployments as documents (HTML with an SVG timeline), from the engine's typed report data: a
        // boundary of its own so that the engine's tests can render what they recorded, and the CLI stays parsing.
        .target(name: "Reports", dependencies: ["DeploymentEngine", "Rollout"]),
        // The command-line program as a library, so that one program ships under two names: `shift`, and
        // `shiftctl` for shells, where `shift` is a builtin. Each executable is one call into it.
        .target(
            name: "ShiftCLI",
            dependencies: [
                "DeploymentEngine", "Reports", "Rollout", "TemplateModel", "Runtime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "shift", dependencies: ["ShiftCLI"]),
        .executableTarget(name: "shiftctl", dependencies: ["ShiftCLI"]),
        // Benchmarks live apart from the CLI so `shift` carries no benchmark code; they share the engine.
        .executableTarget(
            name: "shift-bench",
            dependencies: [
                "DeploymentEngine", "Rollout", "TemplateModel", "Runtime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "RolloutTests", dependencies: ["Rollout"], exclude: ["Fixtures"]),
        .testTarget(name: "DeploymentEngineTests", dependencies: ["DeploymentEngine", "Reports", "Rollout", "TemplateModel", "Runtime"]),
        .testTarget(name: "TemplateModelTests", dependencies: ["TemplateModel"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime"], exclude: ["Fixtures"]),
        // Runs the built binaries (depending on the executables makes `swift test` build them first) and unit-tests
        // a few of ShiftCLI's pure functions.
        .testTarget(name: "ShiftCLITests", dependencies: ["shift", "shiftctl", "ShiftCLI", "Runtime"]),
    ]
)
