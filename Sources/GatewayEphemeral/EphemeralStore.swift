/// The outcome of taking one token from a rate-limit bucket.
public struct RateLimitDecision: Sendable, Equatable {
    public let allowed: Bool
    /// When refused: how long until a token is available.
    public let retryAfter: Duration

    public init(allowed: Bool, retryAfter: Duration) {
        self.allowed = allowed
        self.retryAfter = retryAfter
    }
}

/// A token bucket: `capacity` requests at once, refilled at `perMinute / 60` per second.
public struct RateLimit: Sendable, Equatable {
    public let capacity: Int
    public let perMinute: Int

    public init(capacity: Int, perMinute: Int) {
        precondition(capacity > 0 && perMinute > 0, "rate limits must be positive")
        self.capacity = capacity
        self.perMinute = perMinute
    }

    /// Burst equal to the per-minute figure.
    public static func perMinute(_ count: Int) -> RateLimit { RateLimit(capacity: count, perMinute: count) }
}

/// Short-lived keyed state that must be shared by every replica: one-time codes, pending
/// authorizations, rate-limit buckets, idempotency keys. Two implementations: Redis (serve)
/// and in-process (dev and single-node), run against the same contract tests.
public protocol EphemeralStore: Sendable {
    var kind: String { get }
    func set(_ key: String, _ value: String, ttl: Duration) async throws
    /// Writes only when the key is absent; returns whether it wrote.
    func setIfAbsent(_ key: String, _ value: String, ttl: Duration) async throws -> Bool
    /// Overwrites an existing key keeping its expiry; returns false when the key is gone.
    func replace(_ key: String, _ value: String) async throws -> Bool
    func get(_ key: String) async throws -> String?
    /// Reads and deletes in one step, so a one-time code can be redeemed only once.
    func take(_ key: String) async throws -> String?
    func delete(_ key: String) async throws
    /// Takes a token from the bucket named `key`.
    func consume(_ key: String, limit: RateLimit) async throws -> RateLimitDecision
}
