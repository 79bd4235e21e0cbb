/// The outcome of taking one token from a rate-limit bucket.
package struct RateLimitDecision: Sendable, Equatable {
    package let allowed: Bool
    /// When refused: how long until a token is available.
    package let retryAfter: Duration

    package init(allowed: Bool, retryAfter: Duration) {
        self.allowed = allowed
        self.retryAfter = retryAfter
    }
}

/// A token bucket: `capacity` requests at once, refilled at `perMinute / 60` per second.
package struct RateLimit: Sendable, Equatable {
    package let capacity: Int
    package let perMinute: Int

    package init(capacity: Int, perMinute: Int) {
        precondition(capacity > 0 && perMinute > 0, "rate limits must be positive")
        self.capacity = capacity
        self.perMinute = perMinute
    }

    /// Burst equal to the per-minute figure.
    package static func perMinute(_ count: Int) -> RateLimit { RateLimit(capacity: count, perMinute: count) }
}

/// One bucket a request is counted against: `cost` tokens from the bucket named `key`.
package struct Budget: Sendable, Equatable {
    package let key: String
    package let cost: Int
    package let limit: RateLimit

    package init(key: String, cost: Int = 1, limit: RateLimit) {
        self.key = key
        self.cost = cost
        self.limit = limit
    }
}

/// Short-lived keyed state that must be shared by every replica: one-time codes, pending
/// authorizations, rate-limit buckets, idempotency keys. Two implementations: Redis (serve)
/// and in-process (dev and single-node), run against the same contract tests.
package protocol EphemeralStore: Sendable {
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
    /// Takes `cost` tokens from the bucket named `key` (a byte budget takes one per byte); a
    /// refused request takes none.
    func consume(_ key: String, cost: Int, limit: RateLimit) async throws -> RateLimitDecision
    /// Takes from several buckets at once, all or nothing (one round trip for a request that
    /// counts against a count and a byte budget): when one refuses, none is touched, and the
    /// answer names the first that refused.
    func consume(_ budgets: [Budget]) async throws -> (decision: RateLimitDecision, refused: Int?)

    /// Counts `holder` among the holders of `key` until `ttl` passes, unless `limit` holders
    /// already hold it; holding it already renews it. Returns whether `holder` now holds it.
    /// (Open event streams per user and per device are counted this way, across replicas; a
    /// replica that dies stops renewing, so its holders expire.)
    func acquireLease(_ key: String, holder: String, limit: Int, ttl: Duration) async throws -> Bool
    func releaseLease(_ key: String, holder: String) async throws
}

extension EphemeralStore {
    /// Takes one token from the bucket named `key`.
    package func consume(_ key: String, limit: RateLimit) async throws -> RateLimitDecision {
        try await consume(key, cost: 1, limit: limit)
    }
}
