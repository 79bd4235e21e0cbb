import RedisClient

/// Ephemeral state in Redis, shared by every replica. Keys are prefixed so one Redis can
/// host other data (or several gateways with different prefixes).
public struct RedisEphemeralStore: EphemeralStore {
    public let kind = "redis"
    private let redis: RedisClient
    private let prefix: String

    public init(redis: RedisClient, prefix: String = "gw:") {
        self.redis = redis
        self.prefix = prefix
    }

    public func set(_ key: String, _ value: String, ttl: Duration) async throws {
        try await redis.set(prefix + key, to: value, expiration: .milliseconds(ttl.wholeMilliseconds))
    }

    public func setIfAbsent(_ key: String, _ value: String, ttl: Duration) async throws -> Bool {
        try await redis.set(prefix + key, to: value, expiration: .milliseconds(ttl.wholeMilliseconds), condition: .ifNotExists)
    }

    public func replace(_ key: String, _ value: String) async throws -> Bool {
        try await redis.set(prefix + key, to: value, expiration: .keepTTL, condition: .ifExists)
    }

    public func get(_ key: String) async throws -> String? {
        try await redis.get(prefix + key)
    }

    public func take(_ key: String) async throws -> String? {
        try await redis.getdel(prefix + key)
    }

    public func delete(_ key: String) async throws {
        _ = try await redis.del(prefix + key)
    }

    /// Token bucket evaluated atomically in Redis with the server's clock, so replicas with
    /// skewed clocks still share one bucket fairly.
    static let tokenBucket = RedisScript(
        """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local capacity = tonumber(ARGV[1])
        local per_ms = tonumber(ARGV[2]) / 60000
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
        local tokens = tonumber(state[1]) or capacity
        local stamp = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - stamp) * per_ms)
        local cost = tonumber(ARGV[3])
        local allowed = 0
        local wait = 0
        if tokens >= cost then
            tokens = tokens - cost
            allowed = 1
        else
            wait = math.ceil((cost - tokens) / per_ms)
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
        redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
        return {allowed, wait}
        """)

    public func consume(_ key: String, cost: Int, limit: RateLimit) async throws -> RateLimitDecision {
        let reply = try await redis.eval(
            Self.tokenBucket, keys: [prefix + "rl:" + key], arguments: [limit.capacity, limit.perMinute, max(1, cost)])
        guard let values = reply.array, values.count == 2, let allowed = values[0].int, let wait = values[1].int else {
            throw RedisError.unexpectedReply(command: "EVALSHA token-bucket", reply: "\(reply)")
        }
        return RateLimitDecision(allowed: allowed == 1, retryAfter: .milliseconds(wait))
    }
}

extension RedisEphemeralStore {
    /// A sorted set of holders scored by expiry (Redis server time), pruned on every call.
    static let acquireLeaseScript = RedisScript(
        """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local ttl = tonumber(ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
            return 0
        end
        redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
        """)

    public func acquireLease(_ key: String, holder: String, limit: Int, ttl: Duration) async throws -> Bool {
        let reply = try await redis.eval(
            Self.acquireLeaseScript, keys: [prefix + "lease:" + key], arguments: [holder, limit, ttl.wholeMilliseconds])
        guard let acquired = reply.int else { throw RedisError.unexpectedReply(command: "EVALSHA lease", reply: "\(reply)") }
        return acquired == 1
    }

    public func releaseLease(_ key: String, holder: String) async throws {
        _ = try await redis.zrem(prefix + "lease:" + key, members: holder)
    }
}

extension Duration {
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
