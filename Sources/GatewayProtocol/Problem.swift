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
}
