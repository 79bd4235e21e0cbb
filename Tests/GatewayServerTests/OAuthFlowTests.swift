import AsyncHTTPClient
import Crypto
import Foundation
import GatewayConfig
import GatewayServer
import GatewayTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A gateway held in memory, reached through Hummingbird's router test client (no socket), so
/// rate-limit buckets and codes never leak between tests; hands `body` a fresh client. `live`
/// serves it over real HTTP instead, for what needs a socket (event streams, client addresses,
/// the HTTP server itself).
func withGateway(
    environment overrides: [String: String] = [:], logs: CapturedLogs = CapturedLogs(), live: Bool = false,
    adjust: (inout GatewayConfiguration) -> Void = { _ in },
    _ body: @Sendable (OAuthTestClient) async throws -> Void
) async throws {
    let environment = inMemoryEnvironment().merging(overrides) { $1 }
    var configuration = try Gateway.loadConfiguration(mode: .dev, environment: environment)
    adjust(&configuration)
    let app = try await Gateway.makeApplication(configuration: configuration, logger: logs.logger())
    try await app.test(live ? .live : .router) { [base = configuration.publicBaseURL] client in
        try await body(OAuthTestClient(transport: .of(client, publicBaseURL: base)))
    }
}

@Suite("OAuth 2.1 authorization server over HTTP")
struct OAuthFlowTests {
    @Test func metadataListsEveryEndpoint() async throws {
        try await withGateway { client in
            let metadata = try await client.request(.GET, "/.well-known/oauth-authorization-server").json
            #expect(metadata["issuer"] as? String == "http://localhost:8080")
            for key in ["authorization_endpoint", "token_endpoint", "revocation_endpoint", "device_authorization_endpoint", "jwks_uri"] {
                #expect((metadata[key] as? String)?.hasPrefix("http://localhost:8080/") == true, "\(key)")
            }
            #expect(metadata["code_challenge_methods_supported"] as? [String] == ["S256"])
            let jwks = try await client.request(.GET, "/.well-known/jwks.json").json
            let key = try #require((jwks["keys"] as? [[String: Any]])?.first)
            #expect(key["kty"] as? String == "OKP")
            #expect(key["alg"] as? String == "EdDSA")
        }
    }

    @Test func authorizationCodeWithPKCEOnALoopbackPortThenMeThenRefreshRotation() async throws {
        try await withGateway { client in
            let port = Int.random(in: 20000...60000)
            let redirect = "http://127.0.0.1:\(port)/callback"
            let verifier = OAuthTestClient.makeVerifier()
            let reply = try await client.signIn(
                at: client.authorizeURL(redirectURI: redirect, verifier: verifier, state: "state with spaces+plus"), displayName: "Ada")
            #expect(reply.status == 302)
            let location = try #require(reply.location)
            #expect(location.hasPrefix(redirect + "?"))
            let query = OAuthTestClient.queryItems(location)
            #expect(query["state"] == "state with spaces+plus")
            #expect(query["iss"] == "http://localhost:8080")
            let code = try #require(query["code"])

            let tokens = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": "desktop",
                    "code_verifier": verifier,
                ])
            #expect(tokens.status == 200, "\(tokens.body)")
            #expect(tokens.headers.first(name: "Cache-Control") == "no-store")
            let access = try #require(tokens.json["access_token"] as? String)
            let refresh = try #require(tokens.json["refresh_token"] as? String)
            #expect(tokens.json["token_type"] as? String == "Bearer")
            #expect(tokens.json["expires_in"] as? Int == 900)

            let me = try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(access)")])
            #expect(me.status == 200)
            #expect(me.json["display_name"] as? String == "Ada")
            #expect(me.json["auth_mode"] as? String == "demo")
            #expect(me.json["non_production"] as? Bool == true)

            let rotated = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "refresh_token", "refresh_token": refresh, "client_id": "desktop",
                ])
            #expect(rotated.status == 200, "\(rotated.body)")
            let newRefresh = try #require(rotated.json["refresh_token"] as? String)
            #expect(newRefresh != refresh)
            let newAccess = try #require(rotated.json["access_token"] as? String)
            let meAgain = try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(newAccess)")])
            #expect(meAgain.json["id"] as? String == me.json["id"] as? String)
        }
    }

    @Test func sameBrowserIsSameUserAndAnotherBrowserWithTheSameNameIsNot() async throws {
        try await withGateway { client in
            let first = try await client.signInForTokens(displayName: "Sam")
            let again = try await client.signInForTokens(displayName: "Sam")
            let otherBrowser = client.newBrowser()
            let other = try await otherBrowser.signInForTokens(displayName: "Sam")
            func userID(_ tokens: [String: Any]) async throws -> String? {
                let access = tokens["access_token"] as? String ?? ""
                return try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(access)")]).json["id"] as? String
            }
            let firstID = try await userID(first)
            #expect(firstID != nil)
            #expect(try await userID(again) == firstID)
            #expect(try await userID(other) != firstID)
        }
    }

    @Test func deviceGrantEndToEnd() async throws {
        try await withGateway { client in
            let start = try await client.request(
                .POST, "/oauth/device_authorization", form: ["client_id": "gatewayctl", "scope": "gateway"])
            #expect(start.status == 200, "\(start.body)")
            let deviceCode = try #require(start.json["device_code"] as? String)
            let userCode = try #require(start.json["user_code"] as? String)
            #expect(start.json["verification_uri"] as? String == "http://localhost:8080/device")
            let poll: [String: String] = [
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": deviceCode, "client_id": "gatewayctl",
            ]
            let pending = try await client.request(.POST, "/oauth/token", form: poll)
            #expect(pending.status == 400)
            #expect(pending.json["error"] as? String == "authorization_pending")
            let tooFast = try await client.request(.POST, "/oauth/token", form: poll)
            #expect(tooFast.json["error"] as? String == "slow_down")

            let page = try await client.request(.GET, "/device?user_code=\(userCode)")
            #expect(page.status == 200)
            var form = OAuthTestClient.hiddenInputs(page.body)
            form["user_code"] = userCode.lowercased().replacingOccurrences(of: "-", with: "")
            form["display_name"] = "Terminal user"
            form["action"] = "allow"
            let approved = try await client.request(.POST, "/device", form: form)
            #expect(approved.status == 200, "\(approved.body)")
            #expect(approved.body.contains("Device connected"))

            let tokens = try await client.request(.POST, "/oauth/token", form: poll)
            #expect(tokens.status == 200, "\(tokens.body)")
            let access = try #require(tokens.json["access_token"] as? String)
            let me = try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(access)")])
            #expect(me.json["display_name"] as? String == "Terminal user")
            #expect(me.json["client_id"] as? String == "gatewayctl")
            // The approval is single-use.
            let again = try await client.request(.POST, "/oauth/token", form: poll)
            #expect(again.json["error"] as? String == "expired_token")
        }
    }

    @Test func demoPagesAreMarkedAndLockedDown() async throws {
        try await withGateway { client in
            let page = try await client.request(
                .GET, client.authorizeURL(redirectURI: "http://127.0.0.1:5555/cb", verifier: OAuthTestClient.makeVerifier()))
            #expect(page.status == 200)
            #expect(page.body.contains("Demo mode — not for production"))
            let csp = try #require(page.headers.first(name: "Content-Security-Policy"))
            #expect(csp.contains("frame-ancestors 'none'"))
            #expect(csp.contains("default-src 'none'"))
            #expect(!csp.contains("unsafe-inline"))
            #expect(page.headers.first(name: "Cache-Control") == "no-store")
            #expect(page.headers["Set-Cookie"].contains { $0.contains("gw_csrf=") && $0.contains("SameSite=Strict") })
        }
    }
}
