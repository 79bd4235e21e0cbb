/// RFC 9457 problem details, the body of every `/v1` error.
public struct ProblemDetails: Codable, Sendable, Equatable {
    /// `urn:agent-gateway:problem:<slug>`: stable, for clients to switch on.
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    /// On 429s: the configuration variable of the limit that was reached.
    public var limit: String?

    public init(type: String, title: String, status: Int, detail: String? = nil, limit: String? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.limit = limit
    }

    public static let typePrefix = "urn:agent-gateway:problem:"

    /// The problem type's slug, e.g. `not-found`.
    public var slug: String { type.hasPrefix(Self.typePrefix) ? String(type.dropFirst(Self.typePrefix.count)) : type }

    /// The problem's kind, to switch on; nil for a type this version does not know (a newer
    /// gateway's, or `http-<status>` for an answer that carried no problem).
    public var kind: ProblemType? { ProblemType(rawValue: slug) }

    public init(_ kind: ProblemType, title: String, status: Int, detail: String? = nil, limit: String? = nil) {
        self.init(type: kind.uri, title: title, status: status, detail: detail, limit: limit)
    }
}

/// The kinds of problem the API answers with: `ProblemDetails.type` is
/// `urn:agent-gateway:problem:<raw value>`. Server and clients use these, never the strings.
public enum ProblemType: String, Sendable, CaseIterable {
    case invalidRequest = "invalid-request"
    case invalidToken = "invalid-token"
    case forbidden
    case notFound = "not-found"
    case conflict
    case shareRevoked = "share-revoked"
    case sessionClosed = "session-closed"
    case ownInvite = "own-invite"
    case inviteExpired = "invite-expired"
    case inviteExhausted = "invite-exhausted"
    case inviteRevoked = "invite-revoked"
    case messageTooLarge = "message-too-large"
    case bodyTooLarge = "body-too-large"
    case unsupportedMediaType = "unsupported-media-type"
    case rateLimited = "rate-limited"
    case tooManyStreams = "too-many-streams"
    case `internal`

    public var uri: String { ProblemDetails.typePrefix + rawValue }
}
