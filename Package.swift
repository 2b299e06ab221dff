// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "muster",
    products: [
        .executable(name: "muster", targets: ["muster"]),
        .library(name: "MusterKit", targets: ["MusterKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The control API: HTTP/1.1 on a unix socket in the project's runtime dir.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        // Graceful stop of the control server, so the answer to a shutdown request is delivered.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The HTML run report: templates with escaping, rather than HTML built by concatenation.
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // SHA-256, HMAC and PBKDF2 for SCRAM-SHA-256 logins: the field's cryptography, not our own.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // fork/exec with setsid, dropped privileges and PR_SET_PDEATHSIG; the orphan guardian.
        // Also TLS for https probes through the system's OpenSSL 3, loaded with dlopen only
        // when one runs (tls.c): linked, libssl and libcrypto would load into every process.
        .target(name: "CMusterShims", linkerSettings: [.linkedLibrary("dl")]),
        // ncurses (wide-character build, Debian's libncurses-dev) for the interactive view.
        .systemLibrary(name: "CNcurses", path: "Sources/CNcurses"),
        .target(
            name: "MusterKit",
            dependencies: [
                "CMusterShims",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "muster",
            dependencies: [
                "MusterKit",
                "CNcurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "MusterKitTests", dependencies: ["MusterKit"]),
        .testTarget(
            name: "IntegrationTests", dependencies: ["MusterKit"]),
    ],
    swiftLanguageModes: [.v6]
)
