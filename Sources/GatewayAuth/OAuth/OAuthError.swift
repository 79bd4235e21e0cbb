/// An RFC 6749 section 5.2 error (plus the RFC 8628 device-flow codes).
public struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String
    /// 400 for most; 401 for `invalid_client`; 429 when rate limited.
    public let status: Int
    public let retryAfterSeconds: Int?

    public init(_ code: String, _ message: String, status: Int = 400, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code): \(message)" }

    public static func invalidRequest(_ message: String) -> OAuthError { OAuthError("invalid_request", message) }
    public static func invalidGrant(_ message: String) -> OAuthError { OAuthError("invalid_grant", message) }
    public static func invalidClient(_ message: String) -> OAuthError { OAuthError("invalid_client", message, status: 401) }
    public static func unauthorizedClient(_ message: String) -> OAuthError { OAuthError("unauthorized_client", message) }
    public static func unsupportedGrantType(_ message: String) -> OAuthError { OAuthError("unsupported_grant_type", message) }
    public static func invalidScope(_ message: String) -> OAuthError { OAuthError("invalid_scope", message) }
    public static func rateLimited(retryAfter: Duration) -> OAuthError {
        OAuthError(
            "slow_down", "too many requests; retry later", status: 429,
            retryAfterSeconds: max(1, Int(retryAfter.components.seconds) + (retryAfter.components.attoseconds > 0 ? 1 : 0)))
    }
}

/// Why an authorization request cannot proceed. Before the client and redirect URI are known
/// to be good, the user sees an error page (never a redirect, or the gateway would be an open
/// redirector); after, the error goes back to the client on its redirect URI.
public enum AuthorizeFailure: Error, Sendable, Equatable {
    case errorPage(String)
    case redirect(to: String)
}
