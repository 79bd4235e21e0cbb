// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "gateway",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gateway", targets: ["gateway"]),
        .executable(name: "gatewayctl", targets: ["gatewayctl"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        // For desktop apps written in Swift: the wire types, and the client (sign-in, API, streams,
        // hosting agents behind any `AgentBackend`).
        .library(name: "GatewayProtocol", targets: ["GatewayProtocol"]),
        .library(name: "GatewayClient", targets: ["GatewayClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.15.0"),
    ],
    targets: [
        // The wire protocol: every request, response and event type of the API, shared by the
        // server, the client and the tests (Foundation only).
        .target(name: "GatewayProtocol", dependencies: [], swiftSettings: swiftSettings),
        // Typed configuration built from the environment; no dependencies so it is cheap to test.
        .target(
            name: "GatewayConfig",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        // Self-contained RESP2/RESP3 client on SwiftNIO (no Swift Redis package is available).
        .target(
            name: "RedisClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Durable metadata: one schema, migrations, Postgres and SQLite backends.
        .target(
            name: "GatewayStore",
            dependencies: [
                "GatewayConfig",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Short-lived keyed state with TTL (one-time codes, rate limits, idempotency keys):
        // Redis for serve, in-process for dev.
        .target(
            name: "GatewayEphemeral",
            dependencies: ["RedisClient", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // WHATWG EventSource wire format: encoder for the server, incremental parser for clients.
        .target(
            name: "ServerSentEvents",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Event streams with positions and epochs, live fan-out and presence: Redis for serve,
        // in-process for dev.
        .target(
            name: "GatewayEvents",
            dependencies: [
                "GatewayProtocol", "RedisClient", "ServerSentEvents", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Sharing and relay: devices, agents, invites, sessions, messages, and the streams that carry them.
        .target(
            name: "GatewayRelay",
            dependencies: [
                "GatewayProtocol", "GatewayStore", "GatewayEvents", "GatewayEphemeral", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // OAuth 2.1 authorization server: clients (first-party, registered, metadata documents),
        // codes, tokens, sign-in connectors. Its only network I/O is fetching a client's
        // metadata document, fenced against server-side request forgery.
        .target(
            name: "GatewayAuth",
            dependencies: [
                "GatewayConfig",
                "GatewayProtocol",
                "GatewayStore",
                "GatewayEphemeral",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenID Connect relying party (AUTH_MODE=oidc): discovery, JWKS, token exchange, ID token
        // checks.
        .target(
            name: "GatewayOIDC",
            dependencies: [
                "GatewayAuth",
                "GatewayConfig",
                "GatewayProtocol",
                "GatewayStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Firebase ID token verification (AUTH_MODE=firebase): Google's certificates and rules.
        .target(
            name: "GatewayFirebase",
            dependencies: [
                "GatewayAuth",
                "GatewayConfig",
                "GatewayStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web app (landing page, sign-in in the browser, invites, chat, agents, shares,
        // devices): plain HTML, CSS and JavaScript embedded in the binary; GatewayServer mounts it.
        .target(
            name: "GatewayWeb",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [
                // app.js and the ES modules it imports; each is also listed in WebAssets.
                .embedInCode("Assets/app.js"),
                .embedInCode("Assets/agents.js"),
                .embedInCode("Assets/api.js"),
                .embedInCode("Assets/auth.js"),
                .embedInCode("Assets/chat.js"),
                .embedInCode("Assets/conversations.js"),
                .embedInCode("Assets/devices.js"),
                .embedInCode("Assets/dom.js"),
                .embedInCode("Assets/highlight.js"),
                .embedInCode("Assets/invite.js"),
                .embedInCode("Assets/invite-dialog.js"),
                .embedInCode("Assets/markdown.js"),
                .embedInCode("Assets/qr.js"),
                .embedInCode("Assets/sha256.js"),
                .embedInCode("Assets/shares.js"),
                .embedInCode("Assets/shell.js"),
                .embedInCode("Assets/sse.js"),
                .embedInCode("Assets/app.css"),
                .embedInCode("Assets/icon.svg"),
                .embedInCode("Assets/firebase-sign-in.js"),
                .embedInCode("Assets/sign-in.css"),
                // The server-rendered pages; each is also listed in ServerPages.
                .embedInCode("Templates/frame.mustache"),
                .embedInCode("Templates/landing.mustache"),
                .embedInCode("Templates/shell.mustache"),
                .embedInCode("Templates/sign-in.mustache"),
                .embedInCode("Templates/consent.mustache"),
                .embedInCode("Templates/device-code.mustache"),
                .embedInCode("Templates/device-approval.mustache"),
                .embedInCode("Templates/message.mustache"),
                .embedInCode("Templates/alert.mustache"),
                .embedInCode("Templates/sign-in-controls.mustache"),
                .embedInCode("Templates/client-statement.mustache"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP application: routes, middleware, health, metrics, lifecycle wiring.
        .target(
            name: "GatewayServer",
            dependencies: [
                "GatewayConfig",
                "GatewayProtocol",
                "GatewayWeb",
                "RedisClient",
                "GatewayStore",
                "GatewayEphemeral",
                "GatewayAuth",
                "GatewayOIDC",
                "GatewayFirebase",
                "GatewayEvents",
                "GatewayRelay",
                "ServerSentEvents",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Client side of the protocol (discovery, OAuth sign-in, token storage, API, event streams,
        // the device host loop), used by gatewayctl and exported for desktop apps.
        .target(
            name: "GatewayClient",
            dependencies: [
                "GatewayProtocol", "ServerSentEvents",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // gatewayctl's agent backends: echo, a shell command per message, an OpenAI-compatible model.
        .target(
            name: "GatewayAgentBackends",
            dependencies: [
                "GatewayClient", "GatewayProtocol", "ProcessSpawning", "ServerSentEvents",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Reference desktop-side client.
        .executableTarget(
            name: "gatewayctl",
            dependencies: [
                "GatewayClient", "GatewayAgentBackends", "TerminalQRCode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test helpers: throw-away redis-server and Postgres instances on free ports.
        // Also a small OpenID Provider that signs whatever a test asks, for the refusals a real
        // provider cannot be made to produce.
        .target(
            name: "GatewayTestSupport",
            dependencies: [
                "ProcessSpawning",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings),
        // posix_spawn with a clean signal mask and a reaper thread (gatewayctl's command backend and
        // the test support both start child processes).
        .target(
            name: "ProcessSpawning", dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: swiftSettings),
        // gatewayctl's QR codes for the terminal; not part of the GatewayClient library.
        .target(name: "TerminalQRCode", dependencies: [], swiftSettings: swiftSettings),
        .executableTarget(
            name: "gateway",
            dependencies: [
                "GatewayServer",
                "GatewayConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "GatewayProtocolTests", dependencies: ["GatewayProtocol"], swiftSettings: swiftSettings),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayFirebaseTests",
            dependencies: ["GatewayFirebase", "GatewayAuth", "GatewayConfig", "GatewayTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayOIDCTests",
            dependencies: ["GatewayOIDC", "GatewayAuth", "GatewayConfig", "GatewayProtocol", "GatewayTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient", "GatewayTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServerSentEventsTests", dependencies: ["ServerSentEvents", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayEventsTests",
            dependencies: [
                "GatewayEvents", "RedisClient", "GatewayTestSupport", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayEphemeralTests", dependencies: ["GatewayEphemeral", "RedisClient", "GatewayTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayAuthTests",
            dependencies: ["GatewayAuth", "GatewayProtocol", "GatewayTestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayStoreTests", dependencies: ["GatewayStore", "GatewayConfig", "GatewayTestSupport"],
            swiftSettings: swiftSettings),
        // The sharing and relay rules on RelayService itself, in memory (no HTTP).
        .testTarget(
            name: "GatewayRelayTests",
            dependencies: [
                "GatewayRelay", "GatewayStore", "GatewayEvents", "GatewayEphemeral", "GatewayProtocol",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayWebTests",
            dependencies: [
                "GatewayServer", "GatewayWeb", "GatewayConfig", "GatewayTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayServerTests",
            dependencies: [
                "GatewayServer",
                "GatewayProtocol",
                "GatewayStore",
                "GatewayConfig",
                "GatewayEvents",
                "ServerSentEvents",
                "GatewayTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // gatewayctl: unit tests of the client library, and end-to-end tests that drive the real
        // binary (GATEWAYCTL_BINARY) against live gateway processes (GATEWAY_BINARY).
        .testTarget(
            name: "GatewayCtlTests",
            dependencies: [
                "GatewayClient", "GatewayAgentBackends", "GatewayProtocol", "GatewayTestSupport", "RedisClient", "TerminalQRCode",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Streaming benchmark (not a test): `scripts/bench-streams.sh`, see docs/benchmarks.md.
        .executableTarget(
            name: "gateway-stream-bench",
            dependencies: [
                "GatewayServer",
                "GatewayTestSupport",
                "GatewayConfig",
                "GatewayEvents",
                "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/StreamBenchmark",
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
