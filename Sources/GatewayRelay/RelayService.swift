import Crypto
import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

/// Limits on what users and devices may send and hold (see docs/security.md).
package struct RelayLimits: Sendable {
    package var maximumMessageBytes = 64 * 1024
    package var messagesPerMinute = 120
    package var sessionsPerMinute = 30
    package var repliesPerMinute = 6000
    package var replyBytesPerMinute = 4 << 20
    package var streamsPerUser = 100
    package var streamsPerDevice = 4
    /// An open stream's hold on its user's and device's stream budget expires this long after
    /// its last renewal (so the holds of a replica that died run out by themselves)…
    package var streamLeaseTTL: Duration = .seconds(60)
    /// …and is renewed this often while the stream is open.
    package var streamLeaseRenewal: Duration = .seconds(20)
    /// A device is online while its stream is open; it refreshes this often…
    package var presenceRefresh: Duration = .seconds(3)
    /// …and is offline this long after its process stopped refreshing.
    package var presenceTTL: Duration = .seconds(10)

    package init() {}
}

/// Sharing and relay rules: who may see and use what, and which streams hear about it.
/// HTTP handlers parse and render; every rule lives here.
package struct RelayService: Sendable {
    package let store: GatewayStore
    package let bus: any EventBus
    let ephemeral: any EphemeralStore
    let publicBaseURL: String
    package let limits: RelayLimits
    let logger: Logger
    /// Sessions of finished one-shot completions, kept open for the next one (per user and agent).
    let completionSessions = CompletionSessionPool()

    package init(
        store: GatewayStore, bus: any EventBus, ephemeral: any EphemeralStore, publicBaseURL: String, limits: RelayLimits = RelayLimits(),
        logger: Logger
    ) {
        self.store = store
        self.bus = bus
        self.ephemeral = ephemeral
        self.publicBaseURL = publicBaseURL
        self.limits = limits
        self.logger = logger
    }

    // MARK: Budgets

    /// Takes `cost` from a per-minute budget shared by every replica, or refuses naming the limit.
    func takeBudget(_ limit: UsageLimit, key: String, cost: Int = 1, perMinute: Int) async throws {
        try await takeBudgets([(limit, key, cost, perMinute)])
    }

    /// Takes from several per-minute budgets in one round trip, all or nothing, or refuses naming
    /// the first limit that was reached.
    func takeBudgets(_ budgets: [(limit: UsageLimit, key: String, cost: Int, perMinute: Int)]) async throws {
        let (decision, refused) = try await ephemeral.consume(
            budgets.map { Budget(key: $0.key, cost: $0.cost, limit: .perMinute($0.perMinute)) })
        guard decision.allowed else {
            let limit = refused.map { budgets[$0].limit } ?? budgets[0].limit
            throw RelayError.rateLimited(limit, retryAfterSeconds: max(1, Int(decision.retryAfter.components.seconds) + 1))
        }
    }

    /// Counts a stream about to open against its user's (and device's) budget of open streams,
    /// or refuses naming the limit reached. The stream renews the lease while open and
    /// releases it when it ends.
    package func acquireStreamLease(userID: String, device: Device? = nil) async throws -> StreamLease {
        var budgets = [("streams:user:\(userID)", UsageLimit.streamsPerUser, limits.streamsPerUser)]
        if let device { budgets.append(("streams:device:\(device.instanceID)", .streamsPerDevice, limits.streamsPerDevice)) }
        let lease = StreamLease(
            keys: budgets.map(\.0), holder: UUID().uuidString, ephemeral: ephemeral, ttl: limits.streamLeaseTTL,
            renewal: limits.streamLeaseRenewal)
        for (index, (key, limit, maximum)) in budgets.enumerated() {
            guard try await ephemeral.acquireLease(key, holder: lease.holder, limit: maximum, ttl: lease.ttl) else {
                for (heldKey, _, _) in budgets[..<index] { try? await ephemeral.releaseLease(heldKey, holder: lease.holder) }
                logger.notice(
                    "stream refused: limit reached",
                    metadata: ["event": "relay.stream_limit", "limit": .string(limit.rawValue), "user_id": .string(userID)])
                throw RelayError.tooManyStreams(limit, maximum: maximum)
            }
        }
        return lease
    }

    // MARK: Streams

    @discardableResult
    func append<Payload: EventPayload>(_ stream: StreamName, _ payload: Payload) async throws -> StreamPosition {
        try await bus.append(to: stream, type: Payload.eventType.rawValue, data: try WireJSON.string(payload)).position
    }
}

/// One open stream's hold on its user's (and device's) stream budgets.
package struct StreamLease: Sendable {
    let keys: [String]
    let holder: String
    let ephemeral: any EphemeralStore
    let ttl: Duration
    /// How often the stream should call `renew()`.
    package let renewal: Duration

    package func renew() async {
        for key in keys { _ = try? await ephemeral.acquireLease(key, holder: holder, limit: .max, ttl: ttl) }
    }

    /// Gives the lease back. Often called when the stream's task was cancelled (its client left),
    /// so the store calls run in a task of their own, which a cancellation does not reach.
    package func release() async {
        let (keys, holder, ephemeral) = (self.keys, self.holder, self.ephemeral)
        await Task {
            for key in keys { try? await ephemeral.releaseLease(key, holder: holder) }
        }.value
    }

    /// Runs `body` (a long response: a tool call, a streamed completion) while renewing the
    /// lease, then releases it however `body` ends. The renewal is stopped and waited for first,
    /// so one in flight cannot take the lease again after the release.
    package func hold<Value>(_ body: () async throws -> Value) async throws -> Value {
        let renewer = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: renewal)
                await renew()
            }
        }
        let outcome: Result<Value, any Error>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        renewer.cancel()
        _ = await renewer.result
        await release()
        return try outcome.get()
    }
}
