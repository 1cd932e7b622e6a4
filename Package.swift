// swift-tools-version: 6.1
// SwiftBMS: the package that builds and tests the host side. No package dependencies.
// HAL and Firmware are also built in Embedded Swift mode by the Makefile (see Docs/architecture.md).
import PackageDescription

let package = Package(
    name: "SwiftBMS",
    products: [
        .library(name: "HAL", targets: ["HAL"]),
        .library(name: "Firmware", targets: ["Firmware"]),
        .library(name: "HostHarness", targets: ["HostHarness"]),
        .executable(name: "bms-harness", targets: ["bms-harness"]),
    ],
    targets: [
        // Protocols and value types the firmware runs against. Standard library only.
        .target(name: "HAL", path: "HAL", swiftSettings: [.enableExperimentalFeature("AddressableParameters")]),
        // The control loop and everything it runs. Imports HAL only. Board support
        // (startup code, linker scripts, Embedded entry points) is built by the Makefile.
        // AddressableParameters (HAL, Firmware): large read-only inputs are passed by address
        // (`@_addressable`), which keeps copies out of the Cortex-M frames (Docs/firmware-budget.md).
        .target(name: "Firmware", dependencies: ["HAL"], path: "Firmware", exclude: ["Boards"],
                swiftSettings: [.enableExperimentalFeature("AddressableParameters")]),
        // Host side: virtual pack, simulation, reports, command line. Foundation allowed.
        .target(name: "HostHarness", dependencies: ["HAL", "Firmware"], path: "HostHarness/HostHarness"),
        .executableTarget(name: "bms-harness", dependencies: ["HostHarness"], path: "HostHarness/bms-harness"),
        .testTarget(name: "HALTests", dependencies: ["HAL"], path: "Tests/HALTests"),
        .testTarget(name: "FirmwareTests", dependencies: ["HAL", "Firmware"], path: "Tests/FirmwareTests"),
        .testTarget(name: "HostHarnessTests", dependencies: ["HAL", "Firmware", "HostHarness"],
                    path: "Tests/HostHarnessTests"),
    ]
)
