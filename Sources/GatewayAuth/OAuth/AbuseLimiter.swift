import Foundation
import GatewayConfig
import GatewayEphemeral

/// Per-client-IP and overall token buckets for sign-in and token issuance, shared by every
/// replica through the ephemeral store.
package struct AbuseLimiter: Sendable {
    package enum Action: String, Sendable {
        case signIn = "signin"
        case token
        /// Starting a sign-in: `/oauth/authorize` and `/oauth/device_authorization` park a
        /// pending request for 10 minutes, so together they share one bucket.
        case authorize
        /// Dynamic client registration: each one is a row, so it is bounded harder.
        case register
    }

    /// Registrations per client address and overall, per minute.
    package static let registrationsPerMinute = 10
    package static let registrationsGlobalPerMinute = 60

    let ephemeral: any EphemeralStore
    let settings: AuthSettings

    package init(ephemeral: any EphemeralStore, settings: AuthSettings) {
        self.ephemeral = ephemeral
        self.settings = settings
    }

    /// Throws a 429 `OAuthError` with the wait when either bucket is empty.
    package func check(_ action: Action, clientIP: String) async throws {
        let (perIP, overall) =
            switch action {
            case .signIn: (settings.signInPerMinute, settings.signInGlobalPerMinute)
            case .token: (settings.tokenPerMinute, settings.tokenGlobalPerMinute)
            case .authorize: (settings.authorizePerMinute, settings.authorizeGlobalPerMinute)
            case .register: (Self.registrationsPerMinute, Self.registrationsGlobalPerMinute)
            }
        let ipDecision = try await ephemeral.consume("\(action.rawValue):ip:\(clientIP)", limit: .perMinute(perIP))
        guard ipDecision.allowed else { throw OAuthError.rateLimited(retryAfter: ipDecision.retryAfter) }
        let globalDecision = try await ephemeral.consume("\(action.rawValue):all", limit: .perMinute(overall))
        guard globalDecision.allowed else { throw OAuthError.rateLimited(retryAfter: globalDecision.retryAfter) }
    }

    /// Whether this address entered too many wrong device user codes lately (RFC 8628
    /// section 5.1): throws a 429 `OAuthError` with the wait before the code is even looked up.
    package func checkUserCodeGuessing(clientIP: String) async throws {
        if let until = try await ephemeral.get("usercode-lockout:\(clientIP)").flatMap(Double.init) {
            let wait = until - Date().timeIntervalSince1970
            if wait > 0 { throw OAuthError.rateLimited(retryAfter: .milliseconds(Int(wait * 1000))) }
        }
    }

    /// Counts a wrong user code. Past the limit it throws the 429, and the address is locked
    /// out (no code is even looked up) until the budget has a token again.
    package func recordUserCodeFailure(clientIP: String) async throws {
        let decision = try await ephemeral.consume(
            "usercode-failures:ip:\(clientIP)", limit: .perMinute(settings.userCodeFailuresPerMinute))
        guard !decision.allowed else { return }
        let wait = max(decision.retryAfter, Duration.seconds(60 / max(1, settings.userCodeFailuresPerMinute)))
        let until = Date().timeIntervalSince1970 + Double(wait.components.seconds) + 1
        try await ephemeral.set("usercode-lockout:\(clientIP)", String(until), ttl: wait + .seconds(1))
        throw OAuthError.rateLimited(retryAfter: wait)
    }
}
