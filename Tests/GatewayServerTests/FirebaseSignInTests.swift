import Foundation
import GatewayConfig
import GatewayServer
import GatewayTestSupport
import Hummingbird
import HummingbirdTesting
import Testing

/// A gateway in `AUTH_MODE=firebase` over real HTTP, with Google's certificate document played
/// by the test support's stand-in: the page is served under its own widened policy, a posted
/// ID token finishes the desktop client's authorization (unchanged on its side) and the device
/// flow, and a refused token shows why and creates no user. (The page's script runs in
/// Chromium in tests/python/test_firebase.py.)
@Suite("Firebase sign-in")
struct FirebaseSignInTests {
    func withFirebaseGateway(
        _ google: TestFirebase, environment overrides: [String: String] = [:], logs: CapturedLogs = CapturedLogs(),
        live: Bool = false, _ body: @Sendable (OAuthTestClient) async throws -> Void
    ) async throws {
        let environment = [
            "AUTH_MODE": "firebase", "FIREBASE_PROJECT_ID": google.projectID, "FIREBASE_API_KEY": "test-api-key",
            "FIREBASE_AUTH_DOMAIN": "\(google.projectID).firebaseapp.com", "FIREBASE_CERTIFICATES_URL": google.certificatesURL,
        ]
        try await withCountingGateway(environment: environment.merging(overrides) { $1 }, logs: logs, live: live, body)
    }

    @Test func thePageLoadsTheSignInScriptUnderAWidenedPolicyForThatPageOnly() async throws {
        let google = try TestFirebase()
        try await google.start()
        defer { Task { await google.stop() } }
        let logs = CapturedLogs()
        // Live: the start-up log (its warnings) is written once the server listens.
        try await withFirebaseGateway(google, logs: logs, live: true) { client in
            let page = try await client.request(
                .GET, client.authorizeURL(redirectURI: "http://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier()))
            #expect(page.status == 200)
            #expect(page.body.contains(#"<script type="module" src="/assets/web/firebase-sign-in.js"></script>"#))
            #expect(page.body.contains(#"id="firebase-google""#) && page.body.contains(#"id="firebase-password""#))
            #expect(!page.body.contains(#"name="password""#), "the password never goes to the gateway")
            #expect(!page.body.contains("not for production"))
            let csp = page.headers.first(name: "Content-Security-Policy") ?? ""
            #expect(csp.contains("script-src 'self' https://www.gstatic.com https://apis.google.com"), "\(csp)")
            #expect(csp.contains("frame-src https://\(google.projectID).firebaseapp.com"), "\(csp)")
            #expect(csp.contains("connect-src 'self' https://identitytoolkit.googleapis.com"), "\(csp)")
            // Every other page keeps the strict policy.
            let device = try await client.request(.GET, "/device")
            #expect(!(device.headers.first(name: "Content-Security-Policy") ?? "").contains("gstatic"))
            let script = try await client.request(.GET, "/assets/web/firebase-sign-in.js")
            #expect(script.status == 200 && script.body.contains("signInWithPassword"))
            #expect(logs.text.contains("gateway.firebase_certificates_override"), "a certificate URL that is not Google's is warned about")
        }
    }

    /// The desktop client's flow through a Firebase ID token: same authorize, same token call.
    @Test func aPostedIDTokenFinishesTheAuthorizationAndRefusedOnesCreateNoUser() async throws {
        let google = try TestFirebase()
        try await google.start()
        defer { Task { await google.stop() } }
        try await withFirebaseGateway(google) { client in
            let redirect = "http://127.0.0.1:4321/cb"
            func attempt(_ idToken: String) async throws -> (OAuthTestClient.Reply, String) {
                let verifier = OAuthTestClient.makeVerifier()
                let page = try await client.request(.GET, client.authorizeURL(redirectURI: redirect, verifier: verifier))
                var form = OAuthTestClient.hiddenInputs(page.body)
                form["id_token"] = idToken
                form["action"] = "allow"
                return (try await client.request(.POST, "/oauth/authorize", form: form), verifier)
            }
            var stale = google.claims(uid: "uid-1")
            stale["auth_time"] = .number(Date().timeIntervalSince1970 - 3600)
            for (token, reason) in [
                (try google.token(stale), "too old"), (try google.token(google.claims(), signInProvider: "anonymous"), "Anonymous"),
                ("not-a-token", "not a valid token"), ("", "Sign in with one of the methods"),
            ] {
                let (refused, _) = try await attempt(token)
                #expect(refused.status == 403 || refused.status == 400, "\(reason): \(refused.status)")
                #expect(refused.body.contains(reason), "\(refused.body)")
                #expect(refused.location == nil)
            }
            #expect(try await client.userCount() == 0, "a refused token created a user")
            let (accepted, verifier) = try await attempt(try google.token(google.claims(uid: "uid-1")))
            #expect(accepted.status == 302, "\(accepted.body)")
            let code = try #require(OAuthTestClient.queryItems(accepted.location ?? "")["code"])
            let tokens = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": "desktop",
                    "code_verifier": verifier,
                ]
            ).json
            let access = try #require(tokens["access_token"] as? String, "\(tokens)")
            let me = try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(access)")]).json
            #expect(me["display_name"] as? String == "Fire Base")
            #expect(me["auth_mode"] as? String == "firebase")
            #expect(me["non_production"] as? Bool == false)
        }
    }

    @Test func theDeviceFlowTakesTheSameTokenAndDenyingNeedsNoSignIn() async throws {
        let google = try TestFirebase()
        try await google.start()
        defer { Task { await google.stop() } }
        try await withFirebaseGateway(google) { client in
            for approve in [true, false] {
                let started = try await client.request(.POST, "/oauth/device_authorization", form: ["client_id": "gatewayctl"])
                let userCode = try #require(started.json["user_code"] as? String)
                let page = try await client.request(.GET, "/device?user_code=\(userCode)")
                #expect(page.body.contains("firebase-sign-in.js"))
                var form = OAuthTestClient.hiddenInputs(page.body)
                form["action"] = approve ? "allow" : "deny"
                if approve { form["id_token"] = try google.token(google.claims(uid: "uid-device")) }
                let decided = try await client.request(.POST, "/device", form: form)
                #expect(decided.status == 200, "\(decided.body)")
                #expect(decided.body.contains(approve ? "Device connected" : "Device denied"))
                let poll = try await client.request(
                    .POST, "/oauth/token",
                    form: [
                        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": started.json["device_code"] as! String,
                        "client_id": "gatewayctl",
                    ])
                #expect(poll.status == (approve ? 200 : 400), "\(poll.body)")
            }
        }
    }
}
