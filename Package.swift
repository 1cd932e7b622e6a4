// swift-tools-version: 6.1
// SwiftBMS: the package that builds and tests the host side. No package dependencies.
// HAL and Firmware are also built in Embedded Swift mode by the Makefile (see Docs/architecture.md).
import PackageDescription

let package = Package(
    name: "SwiftBMS",
    products: [
        .library(name: "HAL", targets: ["HAL"]),
        .library(name: "Firmware", targets: ["Firmware"]),
    ],
    targets: [
        // Protocols and value types the firmware runs against. Standard library only.
        .target(name: "HAL", path: "HAL"),
        // The control loop and everything it runs. Imports HAL only. Board support
        // (startup code, linker scripts, Embedded entry points) is built by the Makefile.
        .target(name: "Firmware", dependencies: ["HAL"], path: "Firmware", exclude: ["Boards"]),
        .testTarget(name: "HALTests", dependencies: ["HAL"], path: "Tests/HALTests"),
        .testTarget(name: "FirmwareTests", dependencies: ["HAL", "Firmware"], path: "Tests/FirmwareTests"),
    ]
)
