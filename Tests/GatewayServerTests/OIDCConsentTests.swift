import Foundation
import GatewayTestSupport
import Testing

extension OIDCSignInTests {
    /// An AI client that registered itself sends the person straight to the identity provider;
    /// back at the gateway they are asked whether to allow it, with its name shown as
    /// unverified and the host they will be sent to. Allow gives the client a code (for the MCP
    /// resource it asked for); deny tells it `access_denied`; an answer counts once.
    @Test func aThirdPartyClientNeedsConsentAfterTheProvider() async throws {
        let provider = try TestOpenIDProvider()
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let client = gateway.client
            let redirect = "http://127.0.0.1:\(Int.random(in: 20000...60000))/callback"
            let registered = try await client.request(
                .POST, "/oauth/register", json: #"{"redirect_uris":["\#(redirect)"],"client_name":"<b>Helpful</b> Assistant"}"#)
            let clientID = try #require(registered.json["client_id"] as? String, "\(registered.body)")

            func throughProvider(_ verifier: String) async throws -> OAuthTestClient.Reply {
                let start = try await client.request(
                    .GET,
                    client.authorizeURL(
                        clientID: clientID, redirectURI: redirect, verifier: verifier, extra: ["resource": "http://localhost:8080/mcp"]))
                #expect(start.status == 302, "\(start.body)")
                let approved = try await client.request(.GET, try #require(start.location))
                let callback = try #require(approved.location)
                return try await client.request(.GET, callback.replacingOccurrences(of: "http://localhost:8080", with: gateway.base))
            }

            let verifier = OAuthTestClient.makeVerifier()
            let consent = try await throughProvider(verifier)
            #expect(consent.status == 200, "a third-party client must not get a code without consent: \(consent.location ?? "")")
            #expect(consent.body.contains("&lt;b&gt;Helpful&lt;/b&gt; Assistant") && consent.body.contains("unverified name"))
            #expect(consent.body.contains("sent back to <strong>127.0.0.1</strong>"))
            #expect(consent.body.contains("Alice"), "the page says who is signed in")
            var form = OAuthTestClient.hiddenInputs(consent.body)
            form["action"] = "allow"
            // The answer belongs to the browser that signed in: another one is refused, even with
            // a form token of its own, and its attempt does not use up the person's consent.
            let otherBrowser = gateway.client.newBrowser()
            #expect(try await otherBrowser.request(.POST, "/oauth/consent", form: form).status == 403)
            var stolen = form
            stolen["csrf"] = OAuthTestClient.hiddenInputs(try await otherBrowser.request(.GET, "/device").body)["csrf"]
            #expect(stolen["csrf"] != nil)
            #expect(try await otherBrowser.request(.POST, "/oauth/consent", form: stolen).status == 400)
            let allowed = try await client.request(.POST, "/oauth/consent", form: form)
            #expect(allowed.status == 302 && allowed.location?.hasPrefix(redirect) == true, "\(allowed.body)")
            let code = try #require(OAuthTestClient.queryItems(allowed.location ?? "")["code"])
            let issued = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": clientID,
                    "code_verifier": verifier, "resource": "http://localhost:8080/mcp",
                ]
            ).json
            let token = try #require(issued["access_token"] as? String, "\(issued)")
            let tools = try await client.request(
                .POST, "/mcp", json: #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, headers: [("Authorization", "Bearer \(token)")])
            #expect(tools.status == 200)
            // The same answer again does nothing.
            #expect(try await client.request(.POST, "/oauth/consent", form: form).status == 400)

            let denied = try await throughProvider(OAuthTestClient.makeVerifier())
            var denial = OAuthTestClient.hiddenInputs(denied.body)
            denial["action"] = "deny"
            let refused = try await client.request(.POST, "/oauth/consent", form: denial)
            #expect(OAuthTestClient.queryItems(refused.location ?? "")["error"] == "access_denied")
        }
    }
}
