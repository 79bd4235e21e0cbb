/// An RFC 6749 section 5.2 error (plus the RFC 8628 device-flow codes).
package struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    package let code: String
    package let message: String
    /// 400 for most; 401 for `invalid_client`; 429 when rate limited.
    package let status: Int
    package let retryAfterSeconds: Int?

    package init(_ code: String, _ message: String, status: Int = 400, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.retryAfterSeconds = retryAfterSeconds
    }

    package var description: String { "\(code): \(message)" }

    package static func invalidRequest(_ message: String) -> OAuthError { OAuthError("invalid_request", message) }
    package static func invalidGrant(_ message: String) -> OAuthError { OAuthError("invalid_grant", message) }
    package static func invalidClient(_ message: String) -> OAuthError { OAuthError("invalid_client", message, status: 401) }
    package static func unauthorizedClient(_ message: String) -> OAuthError { OAuthError("unauthorized_client", message) }
    package static func unsupportedGrantType(_ message: String) -> OAuthError { OAuthError("unsupported_grant_type", message) }
    package static func invalidScope(_ message: String) -> OAuthError { OAuthError("invalid_scope", message) }
    package static func rateLimited(retryAfter: Duration) -> OAuthError {
        OAuthError(
            "slow_down", "too many requests; retry later", status: 429,
            retryAfterSeconds: max(1, Int(retryAfter.components.seconds) + (retryAfter.components.attoseconds > 0 ? 1 : 0)))
    }
}

/// Why an authorization request cannot proceed. Before the client and redirect URI are known
/// to be good, the user sees an error page (never a redirect, or the gateway would be an open
/// redirector); after, the error goes back to the client on its redirect URI.
package enum AuthorizeFailure: Error, Sendable, Equatable {
    case errorPage(String)
    case redirect(to: String)
}
