import Foundation
import GatewayTestSupport
import Testing

/// The MCP endpoint's own rules over real HTTP, the cases a real MCP client does not produce
/// (tests/python/test_mcp_client.py drives the whole flow with PyPI's `mcp` SDK): the 401 that
/// starts discovery, tokens bound to one resource, malformed JSON-RPC, unsupported versions,
/// other origins, and dynamic registration's limits.
@Suite("MCP server")
struct MCPServerTests {
    static let mcpResource = "http://localhost:8080/mcp"

    /// Signs a demo user in for `resource` (nil: the API) and returns the token response.
    func tokens(_ client: OAuthTestClient, resource: String?, name: String = "Mia") async throws -> [String: Any] {
        let redirect = "http://127.0.0.1:\(Int.random(in: 20000...60000))/callback"
        let verifier = OAuthTestClient.makeVerifier()
        let extra = resource.map { ["resource": $0] } ?? [:]
        let reply = try await client.signIn(
            at: client.authorizeURL(redirectURI: redirect, verifier: verifier, extra: extra), displayName: name)
        let code = try #require(OAuthTestClient.queryItems(reply.location ?? "")["code"], "\(reply.status) \(reply.location ?? reply.body)")
        var form = [
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": "desktop", "code_verifier": verifier,
        ]
        if let resource { form["resource"] = resource }
        return try await client.request(.POST, "/oauth/token", form: form).json
    }

    func rpc(_ client: OAuthTestClient, _ body: String, token: String, headers: [(String, String)] = []) async throws
        -> OAuthTestClient.Reply
    {
        try await client.request(.POST, "/mcp", json: body, headers: [("Authorization", "Bearer \(token)")] + headers)
    }

    @Test func tokensAreBoundToTheirResource() async throws {
        try await withCountingGateway(environment: [:]) { client in
            // No credentials: 401 with the protected resource metadata's address.
            let anonymous = try await client.request(.POST, "/mcp", json: #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            #expect(anonymous.status == 401)
            #expect(
                anonymous.headers["WWW-Authenticate"].first
                    == #"Bearer resource_metadata="http://localhost:8080/.well-known/oauth-protected-resource/mcp""#)
            let metadata = try await client.request(.GET, "/.well-known/oauth-protected-resource/mcp").json
            #expect(metadata["resource"] as? String == Self.mcpResource)
            #expect(metadata["authorization_servers"] as? [String] == ["http://localhost:8080"])
            let api = try await client.request(.GET, "/.well-known/oauth-protected-resource").json
            #expect(api["resource"] as? String == "http://localhost:8080")

            let mcp = try await tokens(client, resource: Self.mcpResource)
            let mcpToken = try #require(mcp["access_token"] as? String, "\(mcp)")
            let apiToken = try #require(try await tokens(client, resource: nil)["access_token"] as? String)
            let list = #"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#
            #expect(try await rpc(client, list, token: mcpToken).status == 200)
            let refusedHere = try await rpc(client, list, token: apiToken)
            #expect(refusedHere.status == 401)
            #expect(refusedHere.headers["WWW-Authenticate"].first?.contains(#"error="invalid_token""#) == true)
            #expect(try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(mcpToken)")]).status == 401)
            #expect(try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(apiToken)")]).status == 200)

            // A refreshed token is for the same resource; asking to switch resource is refused.
            let refreshToken = try #require(mcp["refresh_token"] as? String)
            let switched = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "refresh_token", "refresh_token": refreshToken, "client_id": "desktop",
                    "resource": "http://localhost:8080",
                ]
            ).json
            #expect(switched["error"] as? String == "invalid_target")
            let refreshed = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refreshToken, "client_id": "desktop"]
            ).json
            let renewed = try #require(refreshed["access_token"] as? String, "\(refreshed)")
            #expect(try await rpc(client, list, token: renewed).status == 200)
            #expect(try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(renewed)")]).status == 401)

            // An unknown resource is refused at the authorization endpoint, back on the redirect.
            let redirect = "http://127.0.0.1:40001/callback"
            let unknown = try await client.request(
                .GET,
                client.authorizeURL(
                    redirectURI: redirect, verifier: OAuthTestClient.makeVerifier(), extra: ["resource": "https://elsewhere.example/mcp"]))
            #expect(unknown.status == 302)
            #expect(OAuthTestClient.queryItems(unknown.location ?? "")["error"] == "invalid_target")
        }
    }

    @Test func malformedOrForeignRequestsGetJSONRPCErrors() async throws {
        try await withCountingGateway(environment: [:]) { client in
            let token = try #require(try await tokens(client, resource: Self.mcpResource)["access_token"] as? String)
            func error(_ reply: OAuthTestClient.Reply) -> Int? { (reply.json["error"] as? [String: Any])?["code"] as? Int }

            let notJSON = try await rpc(client, "{not json", token: token)
            #expect(notJSON.status == 400 && error(notJSON) == -32700)
            let batch = try await rpc(client, #"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, token: token)
            #expect(batch.status == 400 && error(batch) == -32600)
            let future = try await rpc(
                client, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, token: token, headers: [("Mcp-Protocol-Version", "1999-01-01")])
            #expect(future.status == 400 && error(future) == -32022)
            let objectID = try await rpc(client, #"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, token: token)
            #expect(objectID.status == 400 && error(objectID) == -32600 && objectID.json["id"] is NSNull)
            let fractionID = try await rpc(client, #"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, token: token)
            #expect(fractionID.status == 400 && error(fractionID) == -32600)
            let oldJSONRPC = try await rpc(client, #"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, token: token)
            #expect(oldJSONRPC.status == 400 && error(oldJSONRPC) == -32600)
            let unknown = try await rpc(client, #"{"jsonrpc":"2.0","id":"a","method":"resources/list"}"#, token: token)
            #expect(error(unknown) == -32601 && unknown.json["id"] as? String == "a")
            let notification = try await rpc(client, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, token: token)
            #expect(notification.status == 202 && notification.body.isEmpty)

            // Both eras' openings; the id comes back exactly as sent.
            let initialize = try await rpc(
                client, #"{"jsonrpc":"2.0","id":41,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{}}}"#,
                token: token)
            let initialized = try #require(initialize.json["result"] as? [String: Any])
            #expect(initialize.json["id"] as? Int == 41 && initialized["protocolVersion"] as? String == "2025-03-26")
            #expect(initialize.headers["Mcp-Session-Id"].first?.isEmpty == false)
            let newer = try await rpc(
                client, #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2099-01-01"}}"#, token: token)
            #expect((newer.json["result"] as? [String: Any])?["protocolVersion"] as? String == "2025-11-25")
            let discover = try await rpc(
                client, #"{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{}}"#, token: token,
                headers: [("Mcp-Protocol-Version", "2026-07-28")])
            let discovered = try #require(discover.json["result"] as? [String: Any])
            #expect(discovered["supportedVersions"] as? [String] == ["2026-07-28"] && discovered["resultType"] as? String == "complete")

            // A tool that is not (or no longer) the caller's is a tool error, not a protocol error.
            let call = try await rpc(
                client,
                #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"someone_else_12345678","arguments":{"message":"hi"}}}"#,
                token: token)
            let result = try #require(call.json["result"] as? [String: Any], "\(call.body)")
            #expect(result["isError"] as? Bool == true)

            // A page of another origin cannot use the endpoint (DNS rebinding), even with a token.
            let foreign = try await rpc(
                client, #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, token: token, headers: [("Origin", "https://evil.example")])
            #expect(foreign.status == 403)
            #expect(try await client.request(.DELETE, "/mcp", headers: [("Authorization", "Bearer \(token)")]).status == 204)
        }
    }

    @Test func dynamicRegistrationIsValidatedAndRateLimited() async throws {
        try await withCountingGateway(environment: [:]) { client in
            let good =
                #"{"redirect_uris":["http://127.0.0.1:33418/callback"],"client_name":"Some \u0007Client","token_endpoint_auth_method":"client_secret_basic"}"#
            let registered = try await client.request(.POST, "/oauth/register", json: good)
            #expect(registered.status == 201, "\(registered.body)")
            let answer = registered.json
            let clientID = try #require(answer["client_id"] as? String)
            #expect(clientID.hasPrefix("mcp-client-"))
            #expect(answer["token_endpoint_auth_method"] as? String == "none" && answer["client_secret"] == nil)
            #expect(answer["client_name"] as? String == "Some Client")

            // The registered client signs in on its own redirect only, and its name is flagged.
            let verifier = OAuthTestClient.makeVerifier()
            let elsewhere = try await client.request(
                .GET, client.authorizeURL(clientID: clientID, redirectURI: "http://127.0.0.1:33418/other", verifier: verifier))
            #expect(elsewhere.status == 400)
            let page = try await client.request(
                .GET, client.authorizeURL(clientID: clientID, redirectURI: "http://127.0.0.1:40123/callback", verifier: verifier))
            #expect(page.status == 200 && page.body.contains("unverified name") && page.body.contains("Some Client"))

            let bad = try await client.request(.POST, "/oauth/register", json: #"{"redirect_uris":["javascript:alert(1)"]}"#)
            #expect(bad.status == 400 && bad.json["error"] as? String == "invalid_redirect_uri")
            let notJSON = try await client.request(.POST, "/oauth/register", json: "[1,2]")
            #expect(notJSON.status == 400 && notJSON.json["error"] as? String == "invalid_client_metadata")

            // Ten a minute from one address, then 429 with a wait.
            var statuses: [Int] = []
            for _ in 0..<10 { statuses.append(try await client.request(.POST, "/oauth/register", json: good).status) }
            #expect(statuses.contains(429), "\(statuses)")
            let limited = try await client.request(.POST, "/oauth/register", json: good)
            #expect(limited.status == 429 && limited.headers["Retry-After"].first != nil)
        }
    }
}
