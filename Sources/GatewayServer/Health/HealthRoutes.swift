import Foundation
import GatewayProtocol
import Hummingbird

/// `/healthz` (liveness: no dependency calls), `/readyz` (Redis and store round trips) and
/// `/metrics`. None needs auth; all answer for any `Host` (Railway probes from its own host name).
struct HealthRoutes {
    let readiness: Readiness
    let metrics: GatewayMetrics

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ in
            Self.json(.ok, #"{"status":"ok"}"#)
        }
        router.get("/readyz") { _, _ in
            let report = await readiness.evaluate()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = (try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return Self.json(report.isReady ? .ok : .serviceUnavailable, body)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// `GET /openapi.yaml`: the API contract, docs/openapi.yaml — the same file the contract tests
/// check. Found next to the working directory, above the executable (a `swift build` tree), or
/// at /usr/share/gateway/openapi.yaml (container images).
enum OpenAPIDocument {
    static let contents: ByteBuffer? = candidates().lazy.compactMap { FileManager.default.contents(atPath: $0) }.first
        .map { ByteBuffer(bytes: $0) }

    static func candidates() -> [String] {
        var paths = [FileManager.default.currentDirectoryPath + "/docs/openapi.yaml", "/usr/share/gateway/openapi.yaml"]
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            paths.append(directory.appendingPathComponent("docs/openapi.yaml").path)
            directory = directory.deletingLastPathComponent()
        }
        return paths
    }

    static func register(on router: Router<GatewayRequestContext>) {
        router.get("/openapi.yaml") { _, _ in
            guard let contents else { throw HTTPError(.notFound, message: "the API document is not installed next to this binary") }
            return Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: contents))
        }
    }
}
