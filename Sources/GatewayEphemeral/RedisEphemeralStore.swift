import RedisClient

/// Ephemeral state in Redis, shared by every replica. Keys are prefixed so one Redis can
/// host other data (or several gateways with different prefixes).
package struct RedisEphemeralStore: EphemeralStore {
    package let kind = "redis"
    private let redis: RedisClient
    private let prefix: String

    package init(redis: RedisClient, prefix: String = "gw:") {
        self.redis = redis
        self.prefix = prefix
    }

    package func set(_ key: String, _ value: String, ttl: Duration) async throws {
        try await redis.set(prefix + key, to: value, expiration: .milliseconds(ttl.wholeMilliseconds))
    }

    package func setIfAbsent(_ key: String, _ value: String, ttl: Duration) async throws -> Bool {
        try await redis.set(prefix + key, to: value, expiration: .milliseconds(ttl.wholeMilliseconds), condition: .ifNotExists)
    }

    package func replace(_ key: String, _ value: String) async throws -> Bool {
        try await redis.set(prefix + key, to: value, expiration: .keepTTL, condition: .ifExists)
    }

    package func get(_ key: String) async throws -> String? {
        try await redis.get(prefix + key)
    }

    package func take(_ key: String) async throws -> String? {
        try await redis.getdel(prefix + key)
    }

    package func delete(_ key: String) async throws {
        _ = try await redis.del(prefix + key)
    }

    /// Token buckets evaluated atomically in Redis with the server's clock, so replicas with
    /// skewed clocks still share one bucket fairly. KEYS are the buckets; ARGV holds capacity,
    /// per-minute rate and cost for each in turn. All or nothing: when one bucket cannot pay,
    /// none is written, and the reply names it (1-based) with the wait.
    static let tokenBuckets = RedisScript(
        """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local remaining = {}
        for i = 1, #KEYS do
            local capacity = tonumber(ARGV[3 * i - 2])
            local per_ms = tonumber(ARGV[3 * i - 1]) / 60000
            local cost = tonumber(ARGV[3 * i])
            local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
            local tokens = tonumber(state[1]) or capacity
            local stamp = tonumber(state[2]) or now
            tokens = math.min(capacity, tokens + math.max(0, now - stamp) * per_ms)
            if tokens < cost then
                return {0, math.ceil((cost - tokens) / per_ms), i}
            end
            remaining[i] = tokens - cost
        end
        for i = 1, #KEYS do
            local capacity = tonumber(ARGV[3 * i - 2])
            local per_ms = tonumber(ARGV[3 * i - 1]) / 60000
            redis.call('HSET', KEYS[i], 'tokens', tostring(remaining[i]), 'ts', now)
            redis.call('PEXPIRE', KEYS[i], math.ceil(capacity / per_ms) + 1000)
        end
        return {1, 0, 0}
        """)

    package func consume(_ key: String, cost: Int, limit: RateLimit) async throws -> RateLimitDecision {
        try await consume([Budget(key: key, cost: cost, limit: limit)]).decision
    }

    package func consume(_ budgets: [Budget]) async throws -> (decision: RateLimitDecision, refused: Int?) {
        let arguments = budgets.flatMap { [$0.limit.capacity, $0.limit.perMinute, max(1, $0.cost)] }
        let reply = try await redis.eval(Self.tokenBuckets, keys: budgets.map { prefix + "rl:" + $0.key }, arguments: arguments)
        guard let values = reply.array, values.count == 3, let allowed = values[0].int, let wait = values[1].int,
            let index = values[2].int
        else {
            throw RedisError.unexpectedReply(command: "EVALSHA token-buckets", reply: "\(reply)")
        }
        return (RateLimitDecision(allowed: allowed == 1, retryAfter: .milliseconds(wait)), allowed == 1 ? nil : index - 1)
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

    package func acquireLease(_ key: String, holder: String, limit: Int, ttl: Duration) async throws -> Bool {
        let reply = try await redis.eval(
            Self.acquireLeaseScript, keys: [prefix + "lease:" + key], arguments: [holder, limit, ttl.wholeMilliseconds])
        guard let acquired = reply.int else { throw RedisError.unexpectedReply(command: "EVALSHA lease", reply: "\(reply)") }
        return acquired == 1
    }

    package func releaseLease(_ key: String, holder: String) async throws {
        _ = try await redis.zrem(prefix + "lease:" + key, members: holder)
    }
}

extension Duration {
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
