import Crypto
import Foundation
import GatewayConfig
import NIOConcurrencyHelpers
import Testing

/// Every refusal asserts the exact RFC 6749 error (or page) a client would see.
@Suite("OAuth refusals")
struct OAuthNegativeTests {
    /// Signs in and returns the code with what is needed to redeem it.
    func code(_ client: OAuthTestClient, clientID: String = "desktop") async throws -> (code: String, redirect: String, verifier: String) {
        let redirect = "http://127.0.0.1:\(Int.random(in: 20000...60000))/cb"
        let verifier = OAuthTestClient.makeVerifier()
        let reply = try await client.signIn(
            at: client.authorizeURL(clientID: clientID, redirectURI: redirect, verifier: verifier), displayName: "N")
        return (try #require(OAuthTestClient.queryItems(reply.location ?? "")["code"]), redirect, verifier)
    }

    func redeem(_ client: OAuthTestClient, _ code: String, redirect: String, verifier: String?, clientID: String = "desktop") async throws
        -> OAuthTestClient.Reply
    {
        var form = ["grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": clientID]
        form["code_verifier"] = verifier
        return try await client.request(.POST, "/oauth/token", form: form)
    }

    @Test func missingCodeVerifierIsInvalidRequest() async throws {
        try await withGateway { client in
            let grant = try await code(client)
            let reply = try await redeem(client, grant.code, redirect: grant.redirect, verifier: nil)
            #expect(reply.status == 400)
            #expect(reply.json["error"] as? String == "invalid_request")
        }
    }

    @Test func wrongCodeVerifierIsInvalidGrant() async throws {
        try await withGateway { client in
            let grant = try await code(client)
            let reply = try await redeem(client, grant.code, redirect: grant.redirect, verifier: OAuthTestClient.makeVerifier())
            #expect(reply.status == 400)
            #expect(reply.json["error"] as? String == "invalid_grant")
        }
    }

    @Test func plainChallengeMethodIsRefusedOnTheRedirect() async throws {
        try await withGateway { client in
            let redirect = "http://127.0.0.1:4321/cb"
            let verifier = OAuthTestClient.makeVerifier()
            let reply = try await client.request(
                .GET, client.authorizeURL(redirectURI: redirect, verifier: verifier, method: "plain", extra: ["code_challenge": verifier]))
            #expect(reply.status == 302)
            let query = OAuthTestClient.queryItems(reply.location ?? "")
            #expect(reply.location?.hasPrefix(redirect) == true)
            #expect(query["error"] == "invalid_request")
            #expect(query["state"] == "st-123")
        }
    }

    @Test func codeUsedTwiceIsInvalidGrantAndRevokesWhatTheFirstUseIssued() async throws {
        try await withGateway { client in
            let grant = try await code(client)
            let first = try await redeem(client, grant.code, redirect: grant.redirect, verifier: grant.verifier)
            #expect(first.status == 200)
            let second = try await redeem(client, grant.code, redirect: grant.redirect, verifier: grant.verifier)
            #expect(second.json["error"] as? String == "invalid_grant")
            let refresh = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "refresh_token", "refresh_token": first.json["refresh_token"] as? String ?? "", "client_id": "desktop",
                ])
            #expect(refresh.json["error"] as? String == "invalid_grant")
        }
    }

    @Test func expiredCodeIsInvalidGrant() async throws {
        try await withGateway(adjust: { $0.auth.authorizationCodeTTL = .milliseconds(300) }) { client in
            let grant = try await code(client)
            try await Task.sleep(for: .milliseconds(700))
            let reply = try await redeem(client, grant.code, redirect: grant.redirect, verifier: grant.verifier)
            #expect(reply.json["error"] as? String == "invalid_grant")
        }
    }

    @Test func codePresentedByAnotherClientIsInvalidGrant() async throws {
        try await withGateway { client in
            let grant = try await code(client, clientID: "desktop")
            let reply = try await redeem(client, grant.code, redirect: grant.redirect, verifier: grant.verifier, clientID: "gatewayctl")
            #expect(reply.json["error"] as? String == "invalid_grant")
        }
    }

    @Test(arguments: [
        ("desktop", "https://evil.example/cb"),
        ("desktop", "http://localhost:5000/cb"),
        ("desktop", "http://127.0.0.1/cb#fragment"),
        ("web", "http://127.0.0.1:5000/cb"),
        ("web", "https://evil.example/oauth/callback"),
        ("unknown-client", "http://127.0.0.1:5000/cb"),
    ])
    func disallowedRedirectGetsAnErrorPageAndNoRedirect(clientID: String, redirect: String) async throws {
        try await withGateway { client in
            let reply = try await client.request(
                .GET, client.authorizeURL(clientID: clientID, redirectURI: redirect, verifier: OAuthTestClient.makeVerifier()))
            #expect(reply.status == 400)
            #expect(reply.location == nil)
            #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("text/html") == true)
        }
    }

    @Test func allowlistedCustomSchemeIsAccepted() async throws {
        try await withGateway(environment: ["OAUTH_REDIRECT_ALLOWLIST": "com.example.desktop:/oauth/callback"]) { client in
            let reply = try await client.signIn(
                at: client.authorizeURL(redirectURI: "com.example.desktop:/oauth/callback", verifier: OAuthTestClient.makeVerifier()),
                displayName: "Custom")
            #expect(reply.status == 302)
            #expect(reply.location?.hasPrefix("com.example.desktop:/oauth/callback?") == true)
        }
    }

    @Test func refreshTokenReuseStopsTheWholeFamily() async throws {
        try await withGateway { client in
            let tokens = try await client.signInForTokens(displayName: "R")
            let original = try #require(tokens["refresh_token"] as? String)
            func refresh(_ token: String) async throws -> OAuthTestClient.Reply {
                try await client.request(
                    .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": token, "client_id": "desktop"])
            }
            let rotated = try await refresh(original)
            let current = try #require(rotated.json["refresh_token"] as? String)
            let reuse = try await refresh(original)
            #expect(reuse.json["error"] as? String == "invalid_grant")
            let afterReuse = try await refresh(current)
            #expect(afterReuse.json["error"] as? String == "invalid_grant")
        }
    }

    @Test func revokedRefreshTokenIsInvalidGrant() async throws {
        try await withGateway { client in
            let tokens = try await client.signInForTokens(displayName: "V")
            let refresh = try #require(tokens["refresh_token"] as? String)
            let revoked = try await client.request(
                .POST, "/oauth/revoke", form: ["token": refresh, "token_type_hint": "refresh_token", "client_id": "desktop"])
            #expect(revoked.status == 200)
            let unknown = try await client.request(.POST, "/oauth/revoke", form: ["token": "not-a-token", "client_id": "desktop"])
            #expect(unknown.status == 200)
            let reply = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": "desktop"])
            #expect(reply.json["error"] as? String == "invalid_grant")
        }
    }

    @Test func oversizedFormsGet413NotA500() async throws {
        try await withGateway { client in
            let reply = try await client.request(.POST, "/oauth/revoke", form: ["token": String(repeating: "a", count: 70_000)])
            #expect(reply.status == 413)
        }
    }

    @Test func unsupportedGrantAndUnknownClient() async throws {
        try await withGateway { client in
            let grant = try await client.request(.POST, "/oauth/token", form: ["grant_type": "password", "client_id": "desktop"])
            #expect(grant.json["error"] as? String == "unsupported_grant_type")
            let unknown = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "client_id": "nope", "refresh_token": "x"])
            #expect(unknown.status == 401)
            #expect(unknown.json["error"] as? String == "invalid_client")
            let web = try await client.request(.POST, "/oauth/device_authorization", form: ["client_id": "web"])
            #expect(web.json["error"] as? String == "unauthorized_client")
        }
    }

    // MARK: Access tokens at the API

    func meStatus(_ client: OAuthTestClient, token: String) async throws -> (Int, String?) {
        let reply = try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(token)")])
        return (reply.status, reply.headers.first(name: "WWW-Authenticate"))
    }

    @Test func tamperedAlgNoneAndForeignTokensGet401() async throws {
        try await withGateway { client in
            let tokens = try await client.signInForTokens(displayName: "T")
            let access = try #require(tokens["access_token"] as? String)
            let parts = access.split(separator: ".").map(String.init)
            let payload = try JSONSerialization.jsonObject(with: Self.decodeBase64URL(parts[1])) as! [String: Any]

            var tampered = payload
            tampered["sub"] = "someone-else"
            let tamperedToken = [parts[0], Self.encodeJSON(tampered), parts[2]].joined(separator: ".")

            let header = try JSONSerialization.jsonObject(with: Self.decodeBase64URL(parts[0])) as! [String: Any]
            var noneHeader = header
            noneHeader["alg"] = "none"
            let noneToken = [Self.encodeJSON(noneHeader), parts[1], ""].joined(separator: ".")

            // Same header (our kid) and payload, signed by a different Ed25519 key.
            let foreignKey = Curve25519.Signing.PrivateKey()
            let signingInput = "\(parts[0]).\(parts[1])"
            let foreignSignature = OAuthTestClient.base64URL(try foreignKey.signature(for: Data(signingInput.utf8)))
            let foreignToken = "\(signingInput).\(foreignSignature)"

            let (validStatus, _) = try await meStatus(client, token: access)
            #expect(validStatus == 200)
            for token in [tamperedToken, noneToken, foreignToken, "garbage", ""] {
                let (status, challenge) = try await meStatus(client, token: token)
                #expect(status == 401, "\(token.prefix(20))")
                #expect(challenge?.hasPrefix("Bearer") == true)
            }
            let missing = try await client.request(.GET, "/v1/me")
            #expect(missing.status == 401)
            #expect(missing.headers.first(name: "Content-Type") == "application/problem+json")
            #expect(missing.json["type"] as? String == "urn:agent-gateway:problem:invalid-token")
        }
    }

    @Test func tokenFromAGatewayWithAnotherSigningKeyIsRefused() async throws {
        let otherTokens = try await withTokens(signingKey: "Zq8vQ2mX9pL4zR7wY1bB6nC5dF0gH3jS_eUiOoPqZxA")
        try await withGateway { client in
            let (status, _) = try await meStatus(client, token: otherTokens)
            #expect(status == 401)
        }
    }

    func withTokens(signingKey: String) async throws -> String {
        let box = TokenBox()
        try await withGateway(environment: ["JWT_SIGNING_KEY": signingKey]) { client in
            let tokens = try await client.signInForTokens(displayName: "Other")
            box.value = tokens["access_token"] as? String ?? ""
        }
        return box.value
    }

    // MARK: Demo sign-in limits

    @Test func demoSignInOverTheRateLimitGets429WithRetryAfter() async throws {
        try await withGateway(environment: ["SIGNIN_RATE_LIMIT_PER_MINUTE": "2"]) { client in
            for _ in 0..<2 {
                let ok = try await client.signIn(
                    at: client.authorizeURL(redirectURI: "http://127.0.0.1:6000/cb", verifier: OAuthTestClient.makeVerifier()),
                    displayName: "L")
                #expect(ok.status == 302)
            }
            let limited = try await client.signIn(
                at: client.authorizeURL(redirectURI: "http://127.0.0.1:6000/cb", verifier: OAuthTestClient.makeVerifier()), displayName: "L"
            )
            #expect(limited.status == 429)
            #expect(Int(limited.headers.first(name: "Retry-After") ?? "") ?? 0 >= 1)
        }
    }

    @Test func tokenEndpointOverTheRateLimitGets429() async throws {
        try await withGateway(environment: ["TOKEN_RATE_LIMIT_PER_MINUTE": "3"]) { client in
            var statuses: [Int] = []
            for _ in 0..<4 {
                statuses.append(
                    try await client.request(.POST, "/oauth/token", form: ["grant_type": "password", "client_id": "desktop"]).status)
            }
            #expect(statuses == [400, 400, 400, 429])
        }
    }

    @Test func demoSignInSwitchedOffShowsAClearPage() async throws {
        try await withGateway(environment: ["DEMO_SIGNIN_ENABLED": "false"]) { client in
            let reply = try await client.signIn(
                at: client.authorizeURL(redirectURI: "http://127.0.0.1:6000/cb", verifier: OAuthTestClient.makeVerifier()),
                displayName: "Off")
            #expect(reply.status == 403)
            #expect(reply.location == nil)
            #expect(reply.body.contains("switched off"))
        }
    }

    @Test func passcodeIsRequiredWhenSet() async throws {
        try await withGateway(environment: ["DEMO_PASSCODE": "open sesame"]) { client in
            let redirect = "http://127.0.0.1:6000/cb"
            let wrong = try await client.signIn(
                at: client.authorizeURL(redirectURI: redirect, verifier: OAuthTestClient.makeVerifier()), displayName: "P", passcode: "nope"
            )
            #expect(wrong.status == 400)
            #expect(wrong.body.contains("passcode is not right"))
            let right = try await client.signIn(
                at: client.authorizeURL(redirectURI: redirect, verifier: OAuthTestClient.makeVerifier()), displayName: "P",
                passcode: "open sesame")
            #expect(right.status == 302)
        }
    }

    @Test func signInWithoutTheCSRFCookieIsRefused() async throws {
        try await withGateway { client in
            let page = try await client.request(
                .GET, client.authorizeURL(redirectURI: "http://127.0.0.1:6000/cb", verifier: OAuthTestClient.makeVerifier()))
            var form = OAuthTestClient.hiddenInputs(page.body)
            form["display_name"] = "X"
            // A different browser (no cookies) replaying the form, as a cross-site post would.
            let attacker = client.newBrowser()
            let reply = try await attacker.request(.POST, "/oauth/authorize", form: form)
            #expect(reply.status == 403)
            #expect(reply.location == nil)
        }
    }

    static func decodeBase64URL(_ text: String) throws -> Data {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return try #require(Data(base64Encoded: base64))
    }

    static func encodeJSON(_ object: [String: Any]) -> String {
        OAuthTestClient.base64URL(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}

final class TokenBox: Sendable {
    private let stored = NIOLockedValueBox("")
    var value: String {
        get { stored.withLockedValue { $0 } }
        set { stored.withLockedValue { $0 = newValue } }
    }
}
