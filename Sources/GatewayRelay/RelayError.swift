/// Why a sharing or relay request is refused. The HTTP layer maps each case to an RFC 9457
/// problem with a stable type.
package enum RelayError: Error, Sendable, Equatable {
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
    /// Over a per-minute budget: which one, and when to try again.
    case rateLimited(UsageLimit, retryAfterSeconds: Int)
    /// Already holding as many open event streams as `limit` allows.
    case tooManyStreams(UsageLimit, maximum: Int)
    case sessionClosed
}

/// The limits a user or device can run into, named by the variable that sets each.
package enum UsageLimit: String, Sendable, Equatable {
    case messages = "MESSAGE_RATE_LIMIT_PER_MINUTE"
    case sessions = "SESSION_RATE_LIMIT_PER_MINUTE"
    case replies = "REPLY_RATE_LIMIT_PER_MINUTE"
    case replyBytes = "REPLY_BYTES_PER_MINUTE"
    case streamsPerUser = "MAX_STREAMS_PER_USER"
    case streamsPerDevice = "MAX_STREAMS_PER_DEVICE"

    package var summary: String {
        switch self {
        case .messages: "messages per user per minute"
        case .sessions: "sessions opened per user per minute"
        case .replies: "reply events per device per minute"
        case .replyBytes: "reply bytes per device per minute"
        case .streamsPerUser: "open event streams per user"
        case .streamsPerDevice: "open event streams per device"
        }
    }
}
