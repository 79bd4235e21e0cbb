/// Why a sharing or relay request is refused. The HTTP layer maps each case to an RFC 9457
/// problem with a stable type.
public enum RelayError: Error, Sendable, Equatable {
    /// Not found, or not visible to the caller (the two are indistinguishable on purpose).
    case notFound(String)
    /// The caller's access through a share was revoked or given up.
    case shareRevoked
    /// The caller may see the resource but not do this.
    case forbidden(String)
    case invalid(String)
    case conflict(String)
    case inviteExpired, inviteExhausted, inviteRevoked, ownInvite
    case tooLarge(limit: Int)
    case rateLimited(retryAfterSeconds: Int)
    case sessionClosed
}
