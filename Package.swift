// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tarsier",
    products: [
        .library(name: "Tarsier", targets: ["Tarsier"]),
        .executable(name: "tarsier", targets: ["tarsier"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .systemLibrary(name: "CSpng", path: "Sources/CSpng"),
        .target(name: "TarsierSupport"),
        .target(name: "TarsierEval", dependencies: ["TarsierSupport"]),
        .target(name: "CTarsierKernels"),
        .target(name: "TarsierCPU", dependencies: ["CDNNL", "CTarsierKernels"]),
        .target(name: "TarsierCore", dependencies: ["TarsierCPU", "TarsierSupport"]),
        .target(name: "TarsierNN", dependencies: ["TarsierCore", "TarsierSupport"]),
        .target(name: "TarsierOptim", dependencies: ["TarsierCore", "TarsierNN"]),
        .target(name: "CTarsierJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "TarsierImage", dependencies: ["TarsierSupport", "CTurboJPEG", "CSpng", "CTarsierJPEG"]),
        .target(name: "TarsierData", dependencies: ["TarsierSupport", "TarsierImage", "CZlib"]),
        .target(name: "TarsierVision", dependencies: ["TarsierCore", "TarsierNN"]),
        .target(name: "TarsierTrain",
                dependencies: ["TarsierCore", "TarsierNN", "TarsierOptim", "TarsierData", "TarsierVision",
                               "TarsierEval", "TarsierSupport"]),
        .target(name: "Tarsier",
                dependencies: ["TarsierCore", "TarsierNN", "TarsierOptim", "TarsierImage", "TarsierData",
                               "TarsierVision", "TarsierTrain"]),
        .executableTarget(name: "tarsier", dependencies: [
            "Tarsier", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "example-lenet", dependencies: ["Tarsier"], path: "Examples/LeNet"),
        .executableTarget(name: "example-finetune", dependencies: ["Tarsier"], path: "Examples/FineTune"),
        .testTarget(name: "TarsierCPUTests", dependencies: ["TarsierCPU"]),
        .testTarget(name: "TarsierCoreTests", dependencies: ["TarsierCore"]),
        .testTarget(name: "TarsierNNTests", dependencies: ["TarsierCore", "TarsierNN", "TarsierOptim", "TarsierVision"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TarsierDataTests", dependencies: ["TarsierData", "TarsierImage"]),
        .testTarget(name: "TarsierImageTests", dependencies: ["TarsierImage", "TarsierSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TarsierSupportTests", dependencies: ["TarsierSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TarsierEvalTests", dependencies: ["TarsierEval"]),
        .testTarget(name: "TarsierTrainTests", dependencies: ["Tarsier"]),
        .testTarget(name: "TarsierVisionTests", dependencies: ["TarsierVision", "TarsierNN", "TarsierCore", "TarsierSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TarsierOptimTests", dependencies: ["TarsierOptim", "TarsierSupport"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
