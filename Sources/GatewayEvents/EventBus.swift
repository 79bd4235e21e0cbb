/// Event streams with exact positions, live fan-out and presence. Two implementations share
/// one contract test suite: `RedisEventBus` (every replica sees every event) and
/// `MemoryEventBus` (one process, for `gateway dev`), like Centrifugo's Redis and memory engines.
package protocol EventBus: Sendable {
    var kind: String { get }

    /// Appends an event and publishes it to live subscribers in one atomic step.
    func append(to stream: StreamName, type: String, data: String) async throws -> StreamEvent

    /// The stream's current epoch and newest offset (0 when empty). Creates the epoch if needed.
    func head(of stream: StreamName) async throws -> StreamPosition

    /// Events after `position`, at most `limit`, or a reset when the position cannot be honoured.
    func read(_ stream: StreamName, after position: StreamPosition, limit: Int) async throws -> CatchUp

    /// Live events of `stream` from now on. Cancel the subscription when done.
    func subscribe(_ stream: StreamName) async throws -> EventSubscription

    /// Live events of `stream` from now on, handed to `sink` as they arrive (the returned
    /// subscription is only for `cancel()` and `overflowed`; it yields nothing when iterated).
    func subscribe(_ stream: StreamName, sink: EventSignalSink) async throws -> EventSubscription

    /// Marks one connection of `subject` online until `ttl` passes (refresh by calling again).
    /// Returns true when the subject as a whole just came online.
    @discardableResult
    func markOnline(_ subject: String, connection: String, ttl: Duration) async throws -> Bool

    /// Removes one connection; returns true when the subject as a whole just went offline.
    @discardableResult
    func markOffline(_ subject: String, connection: String) async throws -> Bool

    func isOnline(_ subject: String) async throws -> Bool

    /// Every presence change from now on, including connections that expired because their
    /// process died (a sweeper notices them), across all replicas.
    func presenceChanges() async -> PresenceSubscription

    /// Whether live delivery is working (the Redis receiver is connected); readiness reports it.
    var isReceiving: Bool { get async }

    /// Background work (the receiver, the presence sweeper) until cancelled.
    func run() async
}
