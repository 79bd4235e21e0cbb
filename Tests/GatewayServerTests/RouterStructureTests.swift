import Foundation
import GatewayConfig
import GatewayServer
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The router as structure, tested in memory (Hummingbird's router test client, no sockets, no
/// Redis, an in-memory SQLite store that is never opened): authentication is the `/v1` group's
/// middleware, so every route there is behind it, including any route added later.
@Suite("Router structure")
struct RouterStructureTests {
    /// The gateway's routes over in-process dependencies, driven without a server.
    static func withRouter(_ body: @Sendable (any TestClientProtocol, [String]) async throws -> Void) async throws {
        let dependencies = try await GatewayDependencies.inMemory()
        let router = Gateway.buildRouter(dependencies)
        let routes = router.routes.map { "\($0.method.rawValue) \($0.path)" }
        try await Application(router: router).test(.router) { client in try await body(client, routes) }
        await dependencies.close()
    }

    /// `/v1/devices/{deviceID}` -> `/v1/devices/x`.
    static func concretePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { $0.hasPrefix("{") || $0.hasPrefix(":") ? "x" : String($0) }
            .joined(separator: "/")
    }

    @Test func everyV1RouteRefusesAMissingOrInvalidToken() async throws {
        try await Self.withRouter { client, routes in
            let v1 = routes.filter { $0.split(separator: " ")[1].hasPrefix("/v1/") }
            #expect(v1.count >= 25, "the /v1 routes were not found: \(routes)")
            for route in v1 {
                let parts = route.split(separator: " ", maxSplits: 1)
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                let path = Self.concretePath(String(parts[1]))
                for headers: HTTPFields in [[:], [.authorization: "Bearer not-a-token"], [.authorization: "Basic dXNlcjpwYXNz"]] {
                    try await client.execute(uri: path, method: method, headers: headers) { response in
                        #expect(response.status == .unauthorized, "\(route) with \(headers) gave \(response.status)")
                        #expect(response.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#, "\(route)")
                        // The OpenAI-compatible routes answer in OpenAI's error shape, everything else with problem details.
                        let openAI = ["/v1/models", "/v1/chat/completions"].contains(String(parts[1]))
                        #expect(response.headers[.contentType] == (openAI ? "application/json" : "application/problem+json"), "\(route)")
                    }
                }
            }
        }
    }

    @Test func routesOutsideV1NeedNoToken() async throws {
        try await Self.withRouter { client, _ in
            for path in ["/healthz", "/openapi.yaml", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path) gave \(response.status)")
                }
            }
        }
    }
}
