import Foundation
import GatewayConfig
import GatewayServer
import GatewayTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A gateway in `AUTH_MODE=oidc` against the test support's OpenID Provider, over real HTTP:
/// the desktop client's side is unchanged (authorize with PKCE, redeem the code), the person
/// signs in at the provider, and every way a provider's answer can be wrong is refused with a
/// clear page and creates no user. (The same flows against real providers, LemonLDAP::NG and
/// oidc-provider-mock, run in tests/python.)
@Suite("OpenID Connect sign-in")
struct OIDCSignInTests {
    struct Gateway {
        let client: OAuthTestClient
        let base: String

        func userCount() async throws -> Int { try await client.userCount() }
    }

    func withOIDCGateway(
        _ provider: TestOpenIDProvider, environment overrides: [String: String] = [:], logs: CapturedLogs = CapturedLogs(),
        _ body: @Sendable (Gateway) async throws -> Void
    ) async throws {
        var environment = [
            "AUTH_MODE": "oidc", "OIDC_ISSUER_URL": provider.issuer, "OIDC_CLIENT_ID": provider.behaviour.clientID,
            "OIDC_PROVIDER_NAME": "Test provider",
        ]
        environment["OIDC_CLIENT_SECRET"] = provider.behaviour.clientSecret
        try await withCountingGateway(environment: environment.merging(overrides) { $1 }, logs: logs) { client in
            try await body(Gateway(client: client, base: client.base))
        }
    }

    /// Follows the sign-in as a browser would: authorize at the gateway, the provider (which
    /// approves at once), back to the gateway's callback. Returns the callback's reply.
    func signIn(_ gateway: Gateway, redirect: String, verifier: String, state: String = "st-123") async throws -> OAuthTestClient.Reply {
        let start = try await gateway.client.request(
            .GET, gateway.client.authorizeURL(redirectURI: redirect, verifier: verifier, state: state))
        #expect(start.status == 302, "authorize should go straight to the provider: \(start.status) \(start.body)")
        let upstream = try #require(start.location)
        let approved = try await gateway.client.request(.GET, upstream)
        let callback = try #require(approved.location, "the provider answered \(approved.status)")
        #expect(callback.hasPrefix("http://localhost:8080/oauth/oidc/callback?"), "\(callback)")
        // The public base URL is localhost:8080 in tests; the gateway listens elsewhere.
        return try await gateway.client.request(.GET, callback.replacingOccurrences(of: "http://localhost:8080", with: gateway.base))
    }

    func tokens(_ gateway: Gateway, code: String, redirect: String, verifier: String) async throws -> [String: Any] {
        try await gateway.client.request(
            .POST, "/oauth/token",
            form: [
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": "desktop",
                "code_verifier": verifier,
            ]
        ).json
    }

    @Test func aDesktopClientSignsInThroughTheProviderWithNoChangeOnItsSide() async throws {
        let provider = try TestOpenIDProvider()
        try await provider.start()
        defer { Task { await provider.stop() } }
        let logs = CapturedLogs()
        try await withOIDCGateway(provider, logs: logs) { gateway in
            let redirect = "http://127.0.0.1:\(Int.random(in: 20000...60000))/cb"
            let verifier = OAuthTestClient.makeVerifier()
            let back = try await signIn(gateway, redirect: redirect, verifier: verifier)
            #expect(back.status == 302, "\(back.body)")
            let query = OAuthTestClient.queryItems(back.location ?? "")
            #expect(back.location?.hasPrefix(redirect) == true)
            #expect(query["state"] == "st-123")
            #expect(query["iss"] == "http://localhost:8080")
            let code = try #require(query["code"])
            let issued = try await tokens(gateway, code: code, redirect: redirect, verifier: verifier)
            let access = try #require(issued["access_token"] as? String, "\(issued)")
            let me = try await gateway.client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(access)")]).json
            #expect(me["display_name"] as? String == "Alice")
            #expect(me["auth_mode"] as? String == "oidc")
            #expect(me["non_production"] as? Bool == false)
            let userID = try #require(me["id"] as? String)

            // The same person again is the same user; nothing upstream is in cookies or logs.
            let again = try await signIn(gateway, redirect: redirect, verifier: verifier)
            let second = try await tokens(
                gateway, code: try #require(OAuthTestClient.queryItems(again.location ?? "")["code"]), redirect: redirect,
                verifier: verifier)
            let meAgain = try await gateway.client.request(
                .GET, "/v1/me", headers: [("Authorization", "Bearer \(second["access_token"] as? String ?? "")")]
            ).json
            #expect(meAgain["id"] as? String == userID)
            #expect(try await gateway.userCount() == 1)
            #expect(!logs.text.contains("at-alice"), "the provider's access token was logged")
            #expect(!logs.text.contains("eyJ"), "a token was logged")

            // The readiness body and the landing page report the provider and the callback.
            let ready = try await gateway.client.request(.GET, "/readyz").json
            let reported = try #require(ready["identity_provider"] as? [String: Any])
            #expect(reported["status"] as? String == "available")
            #expect(reported["callback_url"] as? String == "http://localhost:8080/oauth/oidc/callback")
            let landing = try await gateway.client.request(.GET, "/").body
            #expect(landing.contains("http://localhost:8080/oauth/oidc/callback"))
            #expect(!landing.contains("not for production"))
        }
    }

    /// client_secret_post and a public client (no secret, PKCE only) work as the default does;
    /// a wrong secret is the provider's refusal, shown as such.
    @Test(
        arguments: [
            ("client_secret_post", ["OIDC_CLIENT_AUTH_METHOD": "client_secret_post"], "test-secret" as String?, 302),
            ("public client", ["OIDC_CLIENT_SECRET": ""], nil, 302),
            ("wrong secret", ["OIDC_CLIENT_SECRET": "not-the-secret"], "test-secret", 403),
        ] as [(String, [String: String], String?, Int)])
    func clientAuthentication(_ name: String, _ environment: [String: String], _ providerSecret: String?, _ status: Int) async throws {
        let provider = try TestOpenIDProvider()
        provider.behaviour.clientSecret = providerSecret
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider, environment: environment) { gateway in
            let back = try await signIn(gateway, redirect: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == status, "\(name): \(back.body)")
            if status == 403 { #expect(back.body.contains("invalid_client"), "\(back.body)") }
        }
    }

    @Test func peopleOfTwoIssuersNeverMerge() async throws {
        let first = try TestOpenIDProvider()
        let second = try TestOpenIDProvider()
        try await first.start()
        try await second.start()
        defer {
            Task {
                await first.stop()
                await second.stop()
            }
        }
        var ids: [String] = []
        for provider in [first, second] {
            try await withOIDCGateway(provider) { gateway in
                let redirect = "http://127.0.0.1:4321/cb"
                let verifier = OAuthTestClient.makeVerifier()
                let back = try await signIn(gateway, redirect: redirect, verifier: verifier)
                let issued = try await tokens(
                    gateway, code: try #require(OAuthTestClient.queryItems(back.location ?? "")["code"]), redirect: redirect,
                    verifier: verifier)
                #expect(issued["access_token"] != nil)
            }
            ids.append(provider.issuer)
        }
        #expect(ids[0] != ids[1])
    }

    /// Every wrong answer of a provider is refused with a page that says why, before any user exists.
    @Test(
        arguments: [
            (
                "wrong iss",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["iss"] = .string("https://evil.example.com") },
                "another identity provider"
            ),
            (
                "other audience", { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["aud"] = .string("someone-else") },
                "another application"
            ),
            (
                "extra audience",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["aud"] = .strings(["gateway", "someone-else"]) },
                "other applications"
            ),
            ("wrong azp", { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["azp"] = .string("someone-else") }, "azp"),
            ("wrong nonce", { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["nonce"] = .string("not-this-one") }, "nonce"),
            ("no nonce", { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["nonce"] = .absent }, "nonce"),
            (
                "expired",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["exp"] = .number(Date().timeIntervalSince1970 - 120) },
                "expired"
            ),
            (
                "issued in the future",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.idToken["iat"] = .number(Date().timeIntervalSince1970 + 600) },
                "future"
            ),
            (
                "alg none",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in
                    b.algorithm = .none
                    b.signingAlgorithms = ["RS256", "none"]
                }, "algorithm"
            ),
            (
                "HS256 with the client secret",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in
                    b.algorithm = .hs256(secret: "test-secret")
                    b.signingAlgorithms = ["RS256", "HS256"]
                }, "algorithm"
            ),
            ("unknown kid", { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.kid = "made-up" }, "key it does not publish"),
            (
                "iss response parameter of another issuer",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.responseIssuer = .other("https://evil.example.com") },
                "another identity provider"
            ),
            (
                "iss response parameter missing though promised",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.responseIssuer = .absent }, "does not name"
            ),
            (
                "userinfo of someone else",
                { @Sendable (b: inout TestOpenIDProvider.Behaviour) in
                    b.idToken["name"] = .absent
                    b.userinfo["sub"] = .string("mallory")
                }, "another person"
            ),
            (
                "provider refuses", { @Sendable (b: inout TestOpenIDProvider.Behaviour) in b.authorizationError = "server_error" },
                "server_error"
            ),
        ] as [(String, @Sendable (inout TestOpenIDProvider.Behaviour) -> Void, String)])
    func aWrongAnswerIsRefusedAndCreatesNoUser(
        _ name: String, _ misbehave: @Sendable (inout TestOpenIDProvider.Behaviour) -> Void, _ reason: String
    ) async throws {
        let provider = try TestOpenIDProvider()
        misbehave(&provider.behaviour)
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let back = try await signIn(gateway, redirect: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == 403, "\(name): \(back.status) \(back.body)")
            #expect(back.location == nil, "\(name): the client must not get a code")
            #expect(back.body.contains(reason), "\(name): \(back.body)")
            #expect(try await gateway.userCount() == 0, "\(name) created a user")
        }
    }

    @Test func accessDeniedAtTheProviderIsAccessDeniedForTheClient() async throws {
        let provider = try TestOpenIDProvider()
        provider.behaviour.authorizationError = "access_denied"
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let redirect = "http://127.0.0.1:4321/cb"
            let back = try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == 302)
            let query = OAuthTestClient.queryItems(back.location ?? "")
            #expect(back.location?.hasPrefix(redirect) == true)
            #expect(query["error"] == "access_denied")
            #expect(query["state"] == "st-123")
        }
    }

    @Test func emailDomainAndGroupRules() async throws {
        let provider = try TestOpenIDProvider()
        try await provider.start()
        defer { Task { await provider.stop() } }
        let rules = ["OIDC_ALLOWED_EMAIL_DOMAINS": "example.com", "OIDC_ALLOWED_GROUPS": "gateway-users,admins"]
        try await withOIDCGateway(provider, environment: rules) { gateway in
            let redirect = "http://127.0.0.1:4321/cb"
            provider.behaviour.idToken = ["groups": .strings(["staff"])]
            var back = try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == 403 && back.body.contains("not in a group allowed"), "\(back.body)")
            provider.behaviour.idToken = ["groups": .strings(["admins"]), "email_verified": .bool(false)]
            back = try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == 403 && back.body.contains("not verified"), "\(back.body)")
            provider.behaviour.idToken = ["groups": .strings(["admins"]), "email": .string("alice@elsewhere.org")]
            back = try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == 403 && back.body.contains("not in a domain allowed"), "\(back.body)")
            #expect(try await gateway.userCount() == 0)
            provider.behaviour.idToken = ["groups": .string("gateway-users")]
            back = try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == 302 && OAuthTestClient.queryItems(back.location ?? "")["code"] != nil, "\(back.body)")
        }
        try await withOIDCGateway(
            provider, environment: ["OIDC_ALLOWED_EMAIL_DOMAINS": "example.com", "OIDC_ALLOW_UNVERIFIED_EMAIL": "true"]
        ) { gateway in
            provider.behaviour.idToken = ["email_verified": .absent]
            let back = try await signIn(gateway, redirect: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier())
            #expect(back.status == 302, "OIDC_ALLOW_UNVERIFIED_EMAIL lets an issuer without email_verified through: \(back.body)")
        }
    }

    /// A rotated key is fetched on first sight; made-up key ids cause at most one fetch a minute.
    @Test func keyRotationIsPickedUpWithoutAFetchStorm() async throws {
        let provider = try TestOpenIDProvider()
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let redirect = "http://127.0.0.1:4321/cb"
            #expect(try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier()).status == 302)
            let fetchesBefore = provider.jwksRequests
            try provider.rotateKey()
            #expect(try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier()).status == 302)
            #expect(provider.jwksRequests == fetchesBefore + 1)
            provider.behaviour.kid = "made-up"
            for _ in 0..<5 {
                #expect(try await signIn(gateway, redirect: redirect, verifier: OAuthTestClient.makeVerifier()).status == 403)
            }
            #expect(provider.jwksRequests == fetchesBefore + 1, "unknown key ids within a minute of the last fetch fetch nothing")
        }
    }

    /// The issuer is down when the gateway starts: it serves anyway, says so, and sign-in works
    /// once the issuer is up.
    @Test func theGatewayStartsWhileTheIssuerIsDownAndRecovers() async throws {
        let provider = try TestOpenIDProvider()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let ready = try await gateway.client.request(.GET, "/readyz")
            #expect(ready.status == 200, "an unreachable issuer must not make the gateway unready")
            let reported = try #require(ready.json["identity_provider"] as? [String: Any])
            #expect(reported["status"] as? String != "available")
            let page = try await gateway.client.request(
                .GET, gateway.client.authorizeURL(redirectURI: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier()))
            #expect(page.status == 503)
            #expect(page.body.contains("Identity provider unreachable"))
            try await provider.start()
            // Background discovery retries with backoff (1, 2, 4, … up to 60 s), so it may be in a
            // long wait now; a sign-in does not wait for it: it tries discovery itself (at most
            // every 2 s), so the next person to sign in gets through.
            #expect(
                await eventually(timeout: .seconds(30), every: .seconds(2.5)) {
                    let attempt = try? await gateway.client.request(
                        .GET, gateway.client.authorizeURL(redirectURI: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier())
                    )
                    return attempt?.status == 302
                })
            let status = (try await gateway.client.request(.GET, "/readyz").json["identity_provider"] as? [String: Any])?["status"]
            #expect(status as? String == "available", "a successful discovery is what readiness reports")
            #expect(try await signIn(gateway, redirect: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier()).status == 302)
        }
    }

    /// A sign-in right after start-up, while the issuer's discovery document is still on its
    /// way, waits for it instead of being told the provider is unreachable.
    @Test func aSignInDuringTheFirstDiscoveryWaitsForIt() async throws {
        let provider = try TestOpenIDProvider()
        var slow = provider.behaviour
        slow.discoveryDelay = .milliseconds(1500)
        provider.behaviour = slow
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let start = try await gateway.client.request(
                .GET, gateway.client.authorizeURL(redirectURI: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier()))
            #expect(start.status == 302, "\(start.body)")
            #expect(start.location?.hasPrefix(provider.issuer + "/authorize?") == true)
        }
    }

    /// The callback belongs to the browser that started the sign-in, once.
    @Test func aCallbackFromAnotherBrowserOrAReplayIsRefused() async throws {
        let provider = try TestOpenIDProvider()
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let start = try await gateway.client.request(
                .GET, gateway.client.authorizeURL(redirectURI: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier()))
            let approved = try await gateway.client.request(.GET, try #require(start.location))
            let callback = try #require(approved.location).replacingOccurrences(of: "http://localhost:8080", with: gateway.base)
            let stranger = gateway.client.newBrowser()
            let stolen = try await stranger.request(.GET, callback)
            #expect(stolen.status == 403 && stolen.body.contains("another browser"), "\(stolen.body)")
            // The pending sign-in was used up by that attempt: the real browser starts again.
            let replay = try await gateway.client.request(.GET, callback)
            #expect(replay.status == 400 && replay.body.contains("expired or was already used"))
            #expect(try await gateway.userCount() == 0)
        }
    }

    /// `/device` runs the same sign-in: approve a device code through the provider.
    @Test func theDeviceFlowSignsInThroughTheProvider() async throws {
        let provider = try TestOpenIDProvider()
        try await provider.start()
        defer { Task { await provider.stop() } }
        try await withOIDCGateway(provider) { gateway in
            let started = try await gateway.client.request(.POST, "/oauth/device_authorization", form: ["client_id": "gatewayctl"])
            let userCode = try #require(started.json["user_code"] as? String)
            let page = try await gateway.client.request(.GET, "/device?user_code=\(userCode)")
            #expect(page.body.contains("Continue with Test provider and allow"))
            var form = OAuthTestClient.hiddenInputs(page.body)
            form["action"] = "allow"
            let toProvider = try await gateway.client.request(.POST, "/device", form: form)
            #expect(toProvider.status == 302)
            let approved = try await gateway.client.request(.GET, try #require(toProvider.location))
            let done = try await gateway.client.request(
                .GET, try #require(approved.location).replacingOccurrences(of: "http://localhost:8080", with: gateway.base))
            #expect(done.status == 200 && done.body.contains("Device connected"), "\(done.body)")
            let tokens = try await gateway.client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": started.json["device_code"] as! String,
                    "client_id": "gatewayctl",
                ])
            #expect(tokens.status == 200, "\(tokens.body)")
        }
    }
}
