import GatewayConfig
import GatewayEphemeral

/// Per-client-IP and overall token buckets for sign-in and token issuance, shared by every
/// replica through the ephemeral store.
public struct AbuseLimiter: Sendable {
    public enum Action: String, Sendable { case signIn = "signin", token }

    let ephemeral: any EphemeralStore
    let settings: AuthSettings

    public init(ephemeral: any EphemeralStore, settings: AuthSettings) {
        self.ephemeral = ephemeral
        self.settings = settings
    }

    /// Throws a 429 `OAuthError` with the wait when either bucket is empty.
    public func check(_ action: Action, clientIP: String) async throws {
        let (perIP, overall) =
            switch action {
            case .signIn: (settings.signInPerMinute, settings.signInGlobalPerMinute)
            case .token: (settings.tokenPerMinute, settings.tokenGlobalPerMinute)
            }
        let ipDecision = try await ephemeral.consume("\(action.rawValue):ip:\(clientIP)", limit: .perMinute(perIP))
        guard ipDecision.allowed else { throw OAuthError.rateLimited(retryAfter: ipDecision.retryAfter) }
        let globalDecision = try await ephemeral.consume("\(action.rawValue):all", limit: .perMinute(overall))
        guard globalDecision.allowed else { throw OAuthError.rateLimited(retryAfter: globalDecision.retryAfter) }
    }
}
