import Foundation
import GatewayConfig
import GatewayServer
import GatewayTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("Health, readiness and metrics over HTTP")
struct HealthTests {
    func devConfiguration() throws -> GatewayConfiguration {
        try Gateway.loadConfiguration(mode: .dev, environment: ["DATABASE_URL": "sqlite::memory:"])
    }

    func serveConfiguration() async throws -> GatewayConfiguration {
        try Gateway.loadConfiguration(
            mode: .serve,
            environment: serveEnvironment(
                port: 8080, databaseURL: try await TestEnvironment.createDatabase(), redisURL: try TestEnvironment.redisURL()))
    }

    @Test func healthzAnswersForAnyHost() async throws {
        let app = try await Gateway.makeApplication(configuration: try devConfiguration(), logger: Logger(label: "test"))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for host in ["healthcheck.railway.app", "localhost", "evil.example"] {
                let result = try await httpGet("http://127.0.0.1:\(port)/healthz", host: host)
                #expect(result.status == 200)
                #expect(result.body == #"{"status":"ok"}"#)
            }
        }
    }

    @Test func readyzInDevChecksOnlyTheStore() async throws {
        let app = try await Gateway.makeApplication(configuration: try devConfiguration(), logger: Logger(label: "test"))
        try await app.test(.live) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                let report = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let checks = report?["checks"] as? [String: Any]
                #expect(report?["status"] as? String == "ready")
                #expect(Set(checks?.keys ?? [:].keys) == ["store"])
            }
        }
    }

    @Test(.requires(.redis, .postgres)) func readyzWithRedisAndPostgresListsBothWithLatency() async throws {
        let app = try await Gateway.makeApplication(configuration: try await serveConfiguration(), logger: Logger(label: "test"))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            do {
                let response = try await httpGet("http://127.0.0.1:\(port)/readyz", host: "healthcheck.railway.app")
                #expect(response.status == 200)
                let report = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
                let checks = report?["checks"] as? [String: [String: Any]]
                #expect(Set(checks?.keys ?? [:].keys) == ["redis", "store", "events"])
                for (_, check) in checks ?? [:] {
                    #expect(check["status"] as? String == "up")
                    #expect(check["latency_ms"] is Double || check["latency_ms"] is Int)
                }
            }
        }
    }

    @Test func servesTheOpenAPIDocument() async throws {
        let app = try await Gateway.makeApplication(configuration: try devConfiguration(), logger: Logger(label: "test"))
        try await app.test(.live) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).hasPrefix("openapi: 3.1"))
            }
        }
    }

    @Test func metricsCountRequestsByRouteTemplate() async throws {
        let app = try await Gateway.makeApplication(configuration: try devConfiguration(), logger: Logger(label: "test"))
        try await app.test(.live) { client in
            _ = try await client.execute(uri: "/healthz", method: .get)
            _ = try await client.execute(uri: "/no/such/path/123", method: .get)
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"gateway_http_requests_total{route="/healthz",method="GET",status="200"} 1"#))
                #expect(text.contains(#"status="404""#))
                #expect(!text.contains("/no/such/path"))
                #expect(text.contains("gateway_http_request_duration_seconds_bucket"))
            }
        }
    }

    @Test func requestLogsCarryRouteAndStatusButNeverQueryHeadersOrCookies() async throws {
        let logs = CapturedLogs()
        let app = try await Gateway.makeApplication(configuration: try devConfiguration(), logger: logs.logger())
        try await app.test(.live) { client in
            _ = try await client.execute(
                uri: "/healthz?code=SECRET-CODE-123&state=SECRET-STATE", method: .get,
                headers: [.authorization: "Bearer SECRET-TOKEN", .cookie: "session=SECRET-COOKIE"])
        }
        let text = logs.text
        #expect(text.contains(#""event":"http.request""#))
        #expect(text.contains(#""route":"/healthz""#))
        #expect(text.contains(#""status":"200""#))
        for secret in ["SECRET-CODE", "SECRET-STATE", "SECRET-TOKEN", "SECRET-COOKIE"] {
            #expect(!text.contains(secret), "\(secret) leaked into logs")
        }
    }
}
