import Foundation

// Personal API keys: static keys for AI clients (OpenAI-compatible API) that cannot sign in
// with OAuth. Shown once when created, stored as a hash.

/// `POST /v1/api-keys`.
public struct APIKeyBody: Codable, Sendable, Equatable {
    public var name: String?
    /// Seconds until the key stops working; absent for a key that does not expire.
    public var expiresIn: Int?

    public init(name: String?, expiresIn: Int? = nil) {
        self.name = name
        self.expiresIn = expiresIn
    }

    enum CodingKeys: String, CodingKey {
        case name
        case expiresIn = "expires_in"
    }
}

/// A key as listed: never its secret.
public struct APIKeyView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// The key's first characters, to tell keys apart.
    public var prefix: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?

    public init(id: String, name: String, prefix: String, createdAt: Date, expiresAt: Date?, lastUsedAt: Date?) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, prefix
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
    }
}

/// `POST /v1/api-keys` answer: the key itself, this once.
public struct CreatedAPIKey: Codable, Sendable, Equatable {
    public var apiKey: APIKeyView
    public var key: String

    public init(apiKey: APIKeyView, key: String) {
        self.apiKey = apiKey
        self.key = key
    }

    enum CodingKeys: String, CodingKey {
        case apiKey = "api_key"
        case key
    }
}
