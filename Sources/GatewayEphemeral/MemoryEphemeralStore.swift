/// Ephemeral state in this process, for `gateway dev` and single-node use. Same contract as
/// the Redis store; lost on restart, which is acceptable for codes that live seconds to minutes.
package actor MemoryEphemeralStore: EphemeralStore {
    package nonisolated let kind = "in-process"
    private var entries: [String: (value: String, expiresAt: ContinuousClock.Instant)] = [:]
    private var buckets: [String: (tokens: Double, stamp: ContinuousClock.Instant)] = [:]
    private var leases: [String: [String: ContinuousClock.Instant]] = [:]
    private let clock = ContinuousClock()
    private var writesSinceSweep = 0

    package init() {}

    package func set(_ key: String, _ value: String, ttl: Duration) {
        sweepOccasionally()
        entries[key] = (value, clock.now + ttl)
    }

    package func setIfAbsent(_ key: String, _ value: String, ttl: Duration) -> Bool {
        guard live(key) == nil else { return false }
        set(key, value, ttl: ttl)
        return true
    }

    package func replace(_ key: String, _ value: String) -> Bool {
        guard let entry = live(key) else { return false }
        entries[key] = (value, entry.expiresAt)
        return true
    }

    package func get(_ key: String) -> String? {
        live(key)?.value
    }

    package func take(_ key: String) -> String? {
        defer { entries[key] = nil }
        return live(key)?.value
    }

    package func delete(_ key: String) {
        entries[key] = nil
    }

    package func acquireLease(_ key: String, holder: String, limit: Int, ttl: Duration) -> Bool {
        sweepOccasionally()
        let now = clock.now
        var holders = (leases[key] ?? [:]).filter { $0.value > now }
        defer { leases[key] = holders.isEmpty ? nil : holders }
        guard holders[holder] != nil || holders.count < limit else { return false }
        holders[holder] = now + ttl
        return true
    }

    package func releaseLease(_ key: String, holder: String) {
        leases[key]?[holder] = nil
        if leases[key]?.isEmpty == true { leases[key] = nil }
    }

    package func consume(_ key: String, cost: Int, limit: RateLimit) -> RateLimitDecision {
        consume([Budget(key: key, cost: cost, limit: limit)]).decision
    }

    package func consume(_ budgets: [Budget]) -> (decision: RateLimitDecision, refused: Int?) {
        let now = clock.now
        var refilled: [Double] = []
        for (index, budget) in budgets.enumerated() {
            let perSecond = Double(budget.limit.perMinute) / 60
            let state = buckets[budget.key] ?? (Double(budget.limit.capacity), now)
            let elapsed = now - state.stamp
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let tokens = min(Double(budget.limit.capacity), state.tokens + max(0, seconds) * perSecond)
            let cost = Double(max(1, budget.cost))
            guard tokens >= cost else {
                let wait = Duration.milliseconds(Int(((cost - tokens) / perSecond * 1000).rounded(.up)))
                return (RateLimitDecision(allowed: false, retryAfter: wait), index)
            }
            refilled.append(tokens - cost)
        }
        for (budget, tokens) in zip(budgets, refilled) { buckets[budget.key] = (tokens, now) }
        return (RateLimitDecision(allowed: true, retryAfter: .zero), nil)
    }

    private func live(_ key: String) -> (value: String, expiresAt: ContinuousClock.Instant)? {
        guard let entry = entries[key] else { return nil }
        if entry.expiresAt <= clock.now {
            entries[key] = nil
            return nil
        }
        return entry
    }

    /// Bounded memory: expired entries are dropped every so often, not only when read.
    private func sweepOccasionally() {
        writesSinceSweep += 1
        guard writesSinceSweep >= 1024 else { return }
        writesSinceSweep = 0
        let now = clock.now
        entries = entries.filter { $0.value.expiresAt > now }
        buckets = buckets.filter { now - $0.value.stamp < .seconds(3600) }
        leases = leases.compactMapValues { holders in
            let live = holders.filter { $0.value > now }
            return live.isEmpty ? nil : live
        }
    }
}
