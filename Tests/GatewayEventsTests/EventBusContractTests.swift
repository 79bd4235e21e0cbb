import Foundation
import GatewayEvents
import GatewayTestSupport
import Logging
import NIOConcurrencyHelpers
import RedisClient
import Testing

enum BusKind: String, CaseIterable, CustomTestStringConvertible {
    case redis, memory
    var testDescription: String { rawValue }

    /// The in-process bus always; Redis where the test services are (always under CI).
    static var runnable: [BusKind] { allCases.filter { $0 != .redis || TestEnvironment.runs([.redis]) } }
}

/// A fresh bus with its background work running; Redis buses get a unique key prefix on the
/// shared server so tests never see each other's streams.
func withBus<T: Sendable>(
    _ kind: BusKind, retention: StreamRetention = StreamRetention(), bufferLimit: Int = 1024, redisURL: String? = nil,
    prefix: String = "test:\(UUID().uuidString):", _ body: @Sendable (any EventBus) async throws -> T
) async throws -> T {
    let bus: any EventBus
    var client: RedisClient?
    switch kind {
    case .memory:
        bus = MemoryEventBus(retention: retention, subscriberBufferLimit: bufferLimit)
    case .redis:
        let url = try redisURL ?? TestEnvironment.redisURL()
        let redis = try RedisClient(url: url)
        client = redis
        bus = try RedisEventBus(
            redis: redis, receiverConfiguration: try RedisConfiguration(url: url), prefix: prefix, retention: retention,
            subscriberBufferLimit: bufferLimit, presenceSweepInterval: .milliseconds(200), logger: Logger(label: "test.bus"))
    }
    let runner = Task { await bus.run() }
    defer { runner.cancel() }
    // The receiver must be connected before live delivery can be relied on.
    let deadline = ContinuousClock.now + .seconds(10)
    while await !bus.isReceiving, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    do {
        let result = try await body(bus)
        await client?.shutdown()
        return result
    } catch {
        await client?.shutdown()
        throw error
    }
}

/// Next signal within `timeout`, or nil.
func next(_ iterator: inout EventSubscription.AsyncIterator, timeout: Duration = .seconds(5)) async -> EventSignal? {
    let box = IteratorBox(iterator)
    let result = await withTaskGroup(of: EventSignal?.self) { group in
        group.addTask { await box.next() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
    iterator = box.iterator
    return result
}

/// Carries a subscription's iterator into a task that races it against a timeout; the
/// iterator is only ever used by one task at a time, which the compiler cannot see.
final class IteratorBox: @unchecked Sendable {
    var iterator: EventSubscription.AsyncIterator
    init(_ iterator: EventSubscription.AsyncIterator) { self.iterator = iterator }
    func next() async -> EventSignal? { await iterator.next() }
}

@Suite("Event bus contract")
struct EventBusContractTests {
    let stream = StreamName("session:abc")!

    @Test(arguments: BusKind.runnable)
    func appendsGetConsecutiveOffsetsInOneEpoch(kind: BusKind) async throws {
        try await withBus(kind) { bus in
            let empty = try await bus.head(of: stream)
            #expect(empty.offset == 0)
            var positions: [StreamPosition] = []
            for index in 1...5 {
                positions.append(try await bus.append(to: stream, type: "message.created", data: #"{"n":\#(index)}"#).position)
            }
            #expect(positions.map(\.offset) == [1, 2, 3, 4, 5])
            #expect(Set(positions.map(\.epoch)) == [empty.epoch])
            #expect(try await bus.head(of: stream) == positions.last)
        }
    }

    @Test(arguments: BusKind.runnable)
    func readAfterAPositionPagesInOrder(kind: BusKind) async throws {
        try await withBus(kind) { bus in
            for index in 1...7 { _ = try await bus.append(to: stream, type: "t", data: "\(index)") }
            let head = try await bus.head(of: stream)
            guard case .events(let page, _) = try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 2), limit: 3)
            else {
                Issue.record("expected events")
                return
            }
            #expect(page.map(\.data) == ["3", "4", "5"])
            #expect(page.map(\.type) == ["t", "t", "t"])
            guard case .events(let rest, _) = try await bus.read(stream, after: page.last!.position, limit: 100) else {
                Issue.record("expected events")
                return
            }
            #expect(rest.map(\.data) == ["6", "7"])
            #expect(try await bus.read(stream, after: head, limit: 10) == .events([], head: head))
        }
    }

    @Test(arguments: BusKind.runnable)
    func positionsThatCannotBeHonouredAreReset(kind: BusKind) async throws {
        try await withBus(kind, retention: StreamRetention(maximumLength: 3)) { bus in
            for index in 1...6 { _ = try await bus.append(to: stream, type: "t", data: "\(index)") }
            let head = try await bus.head(of: stream)
            #expect(
                try await bus.read(stream, after: StreamPosition(epoch: "otherepoch", offset: 2), limit: 10)
                    == .reset(reason: .epochChanged, head: head))
            #expect(
                try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 99), limit: 10)
                    == .reset(reason: .unknownPosition, head: head))
            // Offsets 1...3 were trimmed: after 1, event 2 is gone.
            #expect(
                try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 1), limit: 10)
                    == .reset(reason: .trimmed, head: head))
            guard case .events(let kept, _) = try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 3), limit: 10)
            else {
                Issue.record("expected events")
                return
            }
            #expect(kept.map(\.data) == ["4", "5", "6"])
        }
    }

    /// History is bounded by bytes as well as by count: big events push the oldest out, the
    /// newest always stays (even alone over the budget), and a position before the kept ones
    /// is reset, never silently skipped.
    @Test(arguments: BusKind.runnable)
    func historyIsBoundedByBytes(kind: BusKind) async throws {
        try await withBus(kind, retention: StreamRetention(maximumLength: 1000, maximumBytes: 1000)) { bus in
            let big = String(repeating: "x", count: 299) // 300 bytes with its type "t"
            for _ in 1...5 { _ = try await bus.append(to: stream, type: "t", data: big) }
            let head = try await bus.head(of: stream)
            #expect(head.offset == 5)
            #expect(
                try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 1), limit: 10)
                    == .reset(reason: .trimmed, head: head))
            guard case .events(let kept, _) = try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 2), limit: 10)
            else {
                Issue.record("expected the newest three events (900 bytes) to be kept")
                return
            }
            #expect(kept.map(\.position.offset) == [3, 4, 5])
            // One event larger than the whole budget replaces everything, and stays.
            let huge = try await bus.append(to: stream, type: "t", data: String(repeating: "y", count: 5000))
            guard case .events(let last, _) = try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 5), limit: 10)
            else {
                Issue.record("expected the oversized newest event to be kept")
                return
            }
            #expect(last == [huge])
            // Small events arrive again and the budget applies to them as before.
            for index in 1...3 { _ = try await bus.append(to: stream, type: "t", data: "\(index)") }
            guard case .events(let after, _) = try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 6), limit: 10)
            else {
                Issue.record("expected the small events after the oversized one")
                return
            }
            #expect(after.map(\.data) == ["1", "2", "3"])
            #expect(
                try await bus.read(stream, after: StreamPosition(epoch: head.epoch, offset: 5), limit: 10)
                    == .reset(reason: .trimmed, head: try await bus.head(of: stream)))
        }
    }

    @Test(arguments: BusKind.runnable)
    func subscribersGetLiveEventsInOrderOnlyForTheirStream(kind: BusKind) async throws {
        try await withBus(kind) { bus in
            _ = try await bus.append(to: stream, type: "before", data: "0")
            let first = try await bus.subscribe(stream)
            let second = try await bus.subscribe(stream)
            let other = try await bus.subscribe(StreamName("session:other")!)
            for index in 1...20 { _ = try await bus.append(to: stream, type: "t", data: "\(index)") }
            for subscription in [first, second] {
                var iterator = subscription.makeAsyncIterator()
                var received: [String] = []
                while received.count < 20, let signal = await next(&iterator) {
                    if case .event(let event) = signal { received.append(event.data) }
                }
                #expect(received == (1...20).map(String.init))
            }
            var otherIterator = other.makeAsyncIterator()
            let stray = await next(&otherIterator, timeout: .milliseconds(200))
            #expect(stray == nil || stray == .gap)
            first.cancel()
            second.cancel()
            other.cancel()
        }
    }

    @Test(arguments: BusKind.runnable)
    func aSubscriberThatFallsTooFarBehindIsEndedNotBuffered(kind: BusKind) async throws {
        try await withBus(kind, bufferLimit: 4) { bus in
            let subscription = try await bus.subscribe(stream)
            for index in 1...12 { _ = try await bus.append(to: stream, type: "t", data: "\(index)") }
            try await Task.sleep(for: .milliseconds(300))
            var count = 0
            for await _ in subscription { count += 1 }
            #expect(subscription.overflowed)
            #expect(count <= 4)
        }
    }

    @Test(arguments: BusKind.runnable)
    func aSinkReceivesLiveEventsInOrderAndOverflowsWhenItRefuses(kind: BusKind) async throws {
        try await withBus(kind) { bus in
            let received = SinkRecorder(capacity: 5)
            let subscription = try await bus.subscribe(stream, sink: received.sink)
            for index in 1...8 { _ = try await bus.append(to: stream, type: "t", data: "\(index)") }
            try await waitUntil("the first sink overflowed: \(received.data)") { received.finished }
            #expect(received.data == (1...5).map(String.init))
            #expect(subscription.overflowed)
            subscription.cancel()

            let other = SinkRecorder(capacity: 100)
            let second = try await bus.subscribe(stream, sink: other.sink)
            _ = try await bus.append(to: stream, type: "t", data: "9")
            try await waitUntil("the second sink got 9: \(other.data)") { other.data.contains("9") }
            // Redis may still hand over events published just before the subscription (consumers
            // drop those by position); what arrives is in order and ends with the new event.
            #expect(other.data.last == "9")
            #expect(other.data.compactMap(Int.init) == other.data.compactMap(Int.init).sorted())
            second.cancel()
            #expect(other.finished)
            #expect(!second.overflowed)
        }
    }

    @Test(arguments: BusKind.runnable)
    func presenceCountsConnectionsAndAnnouncesEachChangeOnce(kind: BusKind) async throws {
        try await withBus(kind) { bus in
            let changes = await bus.presenceChanges()
            var iterator = changes.makeAsyncIterator()
            #expect(try await bus.markOnline("device-1", connection: "a", ttl: .seconds(30)))
            #expect(try await bus.markOnline("device-1", connection: "b", ttl: .seconds(30)) == false)
            let presence1 = try await bus.isOnline("device-1")
            #expect(presence1)
            let presence2 = try await bus.markOffline("device-1", connection: "a")
            #expect(presence2 == false)
            let presence3 = try await bus.isOnline("device-1")
            #expect(presence3)
            let presence4 = try await bus.markOffline("device-1", connection: "b")
            #expect(presence4)
            let presence5 = try await bus.isOnline("device-1")
            #expect(presence5 == false)
            #expect(await iterator.next() == PresenceChange(subject: "device-1", isOnline: true))
            #expect(await iterator.next() == PresenceChange(subject: "device-1", isOnline: false))
            changes.cancel()
        }
    }

    @Test(arguments: BusKind.runnable)
    func presenceThatIsNotRefreshedExpiresAndIsAnnouncedOffline(kind: BusKind) async throws {
        try await withBus(kind) { bus in
            let changes = await bus.presenceChanges()
            var iterator = changes.makeAsyncIterator()
            #expect(try await bus.markOnline("device-2", connection: "c", ttl: .milliseconds(300)))
            #expect(await iterator.next() == PresenceChange(subject: "device-2", isOnline: true))
            let started = ContinuousClock.now
            #expect(await iterator.next() == PresenceChange(subject: "device-2", isOnline: false))
            // Sweeps run every 200-500 ms; a busy test machine may delay them a little.
            #expect(ContinuousClock.now - started < .seconds(10))
            let presence6 = try await bus.isOnline("device-2")
            #expect(presence6 == false)
            changes.cancel()
        }
    }
}

/// Collects what a sink is handed; refuses once `capacity` signals are held.
final class SinkRecorder: Sendable {
    private let state = NIOLockedValueBox((events: [String](), finished: false))
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var data: [String] { state.withLockedValue { $0.events } }
    var finished: Bool { state.withLockedValue { $0.finished } }

    var sink: EventSignalSink {
        EventSignalSink(
            deliver: { signal in
                self.state.withLockedValue { state in
                    guard state.events.count < self.capacity else { return false }
                    if case .event(let event) = signal { state.events.append(event.data) }
                    return true
                }
            },
            finish: { self.state.withLockedValue { $0.finished = true } })
    }
}

/// Polls `condition` for up to 5 s.
func waitUntil(_ what: @autoclosure () -> String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("not within 5 s: \(what())")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
