import Foundation
import NIOConcurrencyHelpers
import Testing

/// Runs every flow with logging at trace level and checks no secret reached the logs.
@Suite("No secrets in logs")
struct SecretLoggingTests {
    @Test func fullFlowsLeaveNoCodeTokenPasscodeOrAuthorizationHeaderInLogs() async throws {
        let logs = CapturedLogs()
        let secrets = SecretsSeen()
        let passcode = "correct horse battery staple"
        try await withGateway(environment: ["DEMO_PASSCODE": passcode, "LOG_LEVEL": "trace"], logs: logs) { client in
            let redirect = "http://127.0.0.1:7777/cb"
            let verifier = OAuthTestClient.makeVerifier()
            let reply = try await client.signIn(
                at: client.authorizeURL(redirectURI: redirect, verifier: verifier, state: "opaque-state-value"), displayName: "Logger",
                passcode: passcode)
            let code = OAuthTestClient.queryItems(reply.location ?? "")["code"] ?? ""
            secrets.add(code, verifier, "opaque-state-value")
            let tokens = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": "desktop",
                    "code_verifier": verifier,
                ]
            ).json
            let access = tokens["access_token"] as? String ?? ""
            let refresh = tokens["refresh_token"] as? String ?? ""
            secrets.add(access, refresh)
            _ = try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(access)")])
            _ = try await client.request(.GET, "/v1/me", headers: [("Authorization", "Bearer \(access)x")])
            let rotated = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": "desktop"]
            ).json
            secrets.add(rotated["refresh_token"] as? String ?? "", rotated["access_token"] as? String ?? "")
            // Reuse (logged as a warning) and revocation.
            _ = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": "desktop"])
            _ = try await client.request(.POST, "/oauth/revoke", form: ["token": rotated["refresh_token"] as? String ?? ""])
            // Device grant.
            let device = try await client.request(.POST, "/oauth/device_authorization", form: ["client_id": "gatewayctl"]).json
            let deviceCode = device["device_code"] as? String ?? ""
            let userCode = device["user_code"] as? String ?? ""
            secrets.add(deviceCode, userCode)
            let page = try await client.request(.GET, "/device?user_code=\(userCode)")
            var form = OAuthTestClient.hiddenInputs(page.body)
            secrets.add(form["csrf"] ?? "")
            form["user_code"] = userCode
            form["display_name"] = "Logger"
            form["passcode"] = passcode
            _ = try await client.request(.POST, "/device", form: form)
            let deviceTokens = try await client.request(
                .POST, "/oauth/token",
                form: [
                    "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": deviceCode, "client_id": "gatewayctl",
                ]
            ).json
            secrets.add(deviceTokens["access_token"] as? String ?? "", deviceTokens["refresh_token"] as? String ?? "")
        }
        let text = logs.text
        #expect(text.contains(#""event":"auth.signin""#), "sign-ins are logged")
        #expect(text.contains(#""event":"oauth.refresh_reuse""#))
        #expect(!text.contains(passcode))
        #expect(!text.lowercased().contains("bearer "))
        let seen = secrets.values
        #expect(seen.count >= 10)
        for secret in seen where !secret.isEmpty {
            #expect(!text.contains(secret), "a secret (\(secret.count) characters) appears in the logs")
        }
    }
}

final class SecretsSeen: Sendable {
    private let stored = NIOLockedValueBox([String]())

    func add(_ values: String...) { stored.withLockedValue { $0 += values } }
    var values: [String] { stored.withLockedValue { $0 } }
}
