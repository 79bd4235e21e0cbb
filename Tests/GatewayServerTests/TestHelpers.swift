import AsyncHTTPClient
import Foundation
import GatewayConfig
import GatewayServer
import GatewayTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A signing key that passes the policy; never used outside tests.
let testSigningKey = "tK8vQ2mX9pL4zR7wY1bB6nC5dF0gH3jS_eUiOoPqZxV"

struct HTTPResult: Sendable {
    let status: Int
    let body: String
}

/// One GET over real HTTP; `host` overrides the Host header (Railway probes with its own).
func httpGet(_ url: String, host: String? = nil, timeout: Duration = .seconds(5)) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    if let host { request.headers.replaceOrAdd(name: "Host", value: host) }
    let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout.components.seconds * 1000)))
    let body = try await response.body.collect(upTo: 1 << 20)
    return HTTPResult(status: Int(response.status.code), body: String(buffer: body))
}

/// Polls until `condition` holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration, every interval: Duration = .milliseconds(100), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return await condition()
}

/// The readiness status code, or 0 when the gateway does not answer.
func readyStatus(port: Int) async -> Int {
    (try? await httpGet("http://127.0.0.1:\(port)/readyz", timeout: .seconds(3)).status) ?? 0
}

/// Collects log lines in memory so tests can assert what was (and was not) logged.
final class CapturedLogs: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    var text: String { lines.withLockedValue { $0.joined(separator: "\n") } }

    func logger(label: String = "gateway") -> Logger {
        Logger(label: label) { label in
            var handler = JSONLogHandler(label: label, sink: { line in self.lines.withLockedValue { $0.append(line) } })
            handler.logLevel = .trace
            return handler
        }
    }
}

/// Environment for `gateway serve` against the shared test services.
func serveEnvironment(port: Int, databaseURL: String, redisURL: String) -> [String: String] {
    [
        "PORT": String(port), "PUBLIC_BASE_URL": "http://localhost:\(port)", "JWT_SIGNING_KEY": testSigningKey,
        "REDIS_URL": redisURL, "DATABASE_URL": databaseURL, "AUTH_MODE": "demo",
    ]
}

/// The environment of a gateway held in memory: SQLite in memory, and with no REDIS_URL the
/// in-process event bus and ephemeral store (the contract suites prove them equal to Redis and
/// Postgres). Its public base URL is `http://localhost:8080` whatever port it listens on.
func inMemoryEnvironment() -> [String: String] {
    [
        "DATABASE_URL": "sqlite::memory:", "PUBLIC_BASE_URL": "http://localhost:8080", "JWT_SIGNING_KEY": testSigningKey,
        "AUTH_MODE": "demo",
    ]
}

/// A gateway in memory with `overrides` on top, and one test route, `/test/users/count`, so a
/// test can check that a refused sign-in created nobody. On the router test client unless
/// `live` (a test of what needs a socket: a browser leaving, raw requests, the start-up log).
func withCountingGateway(
    environment overrides: [String: String], logs: CapturedLogs = CapturedLogs(), live: Bool = false,
    _ body: @Sendable (OAuthTestClient) async throws -> Void
) async throws {
    let environment = inMemoryEnvironment().merging(overrides) { $1 }
    let configuration = try Gateway.loadConfiguration(mode: .dev, environment: environment)
    let dependencies = try await GatewayDependencies.make(configuration: configuration, logger: logs.logger(), metrics: GatewayMetrics())
    let router = Gateway.buildRouter(dependencies)
    router.get("/test/users/count") { _, _ in
        String(try await dependencies.store.database.execute("SELECT count(*) AS n FROM users").first?.int64("n") ?? -1)
    }
    let app = Gateway.makeApplication(dependencies, router: router)
    try await app.test(live ? .live : .router) { [base = configuration.publicBaseURL] client in
        try await body(OAuthTestClient(transport: .of(client, publicBaseURL: base)))
    }
}

extension OAuthTestClient {
    /// Users in the store of a gateway started by `withCountingGateway`.
    func userCount() async throws -> Int {
        Int(try await request(.GET, "/test/users/count").body) ?? -1
    }
}
