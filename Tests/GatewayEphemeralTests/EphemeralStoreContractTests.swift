import Foundation
import GatewayEphemeral
import GatewayTestSupport
import RedisClient
import Testing

enum EphemeralBackend: String, CaseIterable, CustomTestStringConvertible {
    case redis, memory
    var testDescription: String { rawValue }

    /// The in-process store always; Redis where the test services are (always under CI).
    static var runnable: [EphemeralBackend] { allCases.filter { $0 != .redis || TestEnvironment.runs([.redis]) } }
}

/// Runs `body` with a fresh store; the Redis one uses a unique key prefix on the shared server.
func withEphemeralStore(_ backend: EphemeralBackend, _ body: @Sendable (any EphemeralStore) async throws -> Void) async throws {
    switch backend {
    case .memory:
        try await body(MemoryEphemeralStore())
    case .redis:
        let client = try RedisClient(url: try TestEnvironment.redisURL())
        do {
            try await body(RedisEphemeralStore(redis: client, prefix: "test:\(UUID().uuidString):"))
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

@Suite("Ephemeral store contract")
struct EphemeralStoreContractTests {
    @Test(arguments: EphemeralBackend.runnable)
    func takeRedeemsOnce(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            try await store.set("code", "grant", ttl: .seconds(60))
            #expect(try await store.get("code") == "grant")
            #expect(try await store.take("code") == "grant")
            #expect(try await store.take("code") == nil)
            #expect(try await store.get("code") == nil)
        }
    }

    @Test(arguments: EphemeralBackend.runnable)
    func concurrentTakesYieldOneWinner(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            try await store.set("once", "v", ttl: .seconds(60))
            let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<16 { group.addTask { try await store.take("once") } }
                return try await group.reduce(into: 0) { $0 += $1 == nil ? 0 : 1 }
            }
            #expect(winners == 1)
        }
    }

    @Test(arguments: EphemeralBackend.runnable)
    func entriesExpire(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            // Long enough that a busy machine reads it back in time; expiry runs from when the
            // store took it, which is before this call returned.
            try await store.set("short", "v", ttl: .seconds(3))
            let expires = ContinuousClock.now + .seconds(3)
            #expect(try await store.get("short") == "v")
            try await Task.sleep(until: expires + .milliseconds(200))
            #expect(try await store.get("short") == nil)
            #expect(try await store.take("short") == nil)
            #expect(try await store.replace("short", "w") == false)
        }
    }

    @Test(arguments: EphemeralBackend.runnable)
    func setIfAbsentAndReplace(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            #expect(try await store.setIfAbsent("k", "first", ttl: .seconds(60)))
            #expect(try await store.setIfAbsent("k", "second", ttl: .seconds(60)) == false)
            #expect(try await store.get("k") == "first")
            #expect(try await store.replace("k", "third"))
            #expect(try await store.get("k") == "third")
            try await store.delete("k")
            #expect(try await store.get("k") == nil)
            #expect(try await store.replace("k", "x") == false)
        }
    }

    @Test(arguments: EphemeralBackend.runnable)
    func tokenBucketAllowsBurstThenRefusesWithRetryAfter(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            // Slow refill (one token per 10 s), so the burst and the refusal hold on a busy machine.
            let limit = RateLimit(capacity: 3, perMinute: 6)
            for _ in 0..<3 {
                #expect(try await store.consume("ip:1", limit: limit).allowed)
            }
            let refused = try await store.consume("ip:1", limit: limit)
            #expect(!refused.allowed)
            #expect(refused.retryAfter > .zero && refused.retryAfter <= .seconds(10))
            // Buckets are independent per key.
            #expect(try await store.consume("ip:2", limit: limit).allowed)
            // Tokens refill with time: at 600/min one is back after 100 ms.
            let fast = RateLimit(capacity: 1, perMinute: 600)
            #expect(try await store.consume("fast", limit: fast).allowed)
            try await Task.sleep(for: .milliseconds(150))
            #expect(try await store.consume("fast", limit: fast).allowed)
        }
    }

    /// Several budgets in one call are all or nothing: a refusal names the first bucket that
    /// could not pay and leaves every bucket as it was.
    @Test(arguments: EphemeralBackend.runnable)
    func severalBudgetsAreTakenAllOrNothing(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            let slow = RateLimit(capacity: 5, perMinute: 1)
            let requests = Budget(key: "requests", limit: slow)
            let bytes = Budget(key: "bytes", cost: 3, limit: slow)
            let first = try await store.consume([requests, bytes])
            #expect(first.decision.allowed && first.refused == nil)
            // bytes has 2 left: the next pair is refused at index 1, and requests keeps its 4.
            let second = try await store.consume([requests, bytes])
            #expect(!second.decision.allowed && second.refused == 1)
            #expect(second.decision.retryAfter > .zero)
            for _ in 0..<4 { #expect(try await store.consume("requests", limit: slow).allowed, "the refusal took nothing") }
            #expect(try await store.consume("requests", limit: slow).allowed == false)
            #expect(try await store.consume("bytes", cost: 2, limit: slow).allowed)
        }
    }

    /// A byte budget: one request takes as many tokens as it costs; a refused one takes none.
    @Test(arguments: EphemeralBackend.runnable)
    func weightedBudgetsTakeTheirCostAndRefusalsTakeNothing(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            let limit = RateLimit.perMinute(1000)
            #expect(try await store.consume("bytes", cost: 600, limit: limit).allowed)
            let refused = try await store.consume("bytes", cost: 600, limit: limit)
            #expect(!refused.allowed)
            #expect(refused.retryAfter > .seconds(10), "200 missing tokens at 1000 per minute take about 12 s")
            #expect(try await store.consume("bytes", cost: 390, limit: limit).allowed, "the refusal took nothing")
            #expect(try await store.consume("other", cost: 1000, limit: limit).allowed, "budgets are per key")
        }
    }

    /// Leases count holders up to a limit; holding one already renews it; release frees a
    /// place; a holder that stops renewing expires.
    @Test(arguments: EphemeralBackend.runnable)
    func leasesCountHoldersUpToTheLimit(backend: EphemeralBackend) async throws {
        try await withEphemeralStore(backend) { store in
            #expect(try await store.acquireLease("streams", holder: "a", limit: 2, ttl: .seconds(60)))
            // b's lease is short, but long enough for the steps below on a busy machine; it runs
            // from when the store took it, which is before this call returned.
            #expect(try await store.acquireLease("streams", holder: "b", limit: 2, ttl: .seconds(2)))
            let bExpires = ContinuousClock.now + .seconds(2)
            #expect(try await store.acquireLease("streams", holder: "c", limit: 2, ttl: .seconds(60)) == false)
            #expect(try await store.acquireLease("streams", holder: "a", limit: 2, ttl: .seconds(60)), "a holder renews its own")
            #expect(try await store.acquireLease("elsewhere", holder: "c", limit: 2, ttl: .seconds(60)), "leases are per key")
            try await store.releaseLease("streams", holder: "a")
            #expect(try await store.acquireLease("streams", holder: "c", limit: 2, ttl: .seconds(60)))
            #expect(try await store.acquireLease("streams", holder: "d", limit: 2, ttl: .seconds(60)) == false)
            try await Task.sleep(until: bExpires + .milliseconds(100))
            #expect(try await store.acquireLease("streams", holder: "d", limit: 2, ttl: .seconds(60)), "b expired")
        }
    }
}
