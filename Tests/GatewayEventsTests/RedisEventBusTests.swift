import Foundation
import GatewayEvents
import GatewayTestSupport
import Logging
import RedisClient
import Testing

/// What only the Redis bus must do: share streams between replicas, survive a Redis restart,
/// and recognise lost history by its epoch.
@Suite("Redis event bus across replicas and outages", .serialized)
struct RedisEventBusTests {
    let stream = StreamName("session:replicated")!

    @Test(.requires(.redis)) func anEventAppendedOnOneReplicaReachesASubscriberOnAnother() async throws {
        let prefix = "test:\(UUID().uuidString):"
        try await withBus(.redis, prefix: prefix) { replicaA in
            try await withBus(.redis, prefix: prefix) { replicaB in
                let subscription = try await replicaB.subscribe(stream)
                var iterator = subscription.makeAsyncIterator()
                let appended = try await replicaA.append(to: stream, type: "t", data: "hello")
                var received: StreamEvent?
                while received == nil, let signal = await next(&iterator) {
                    if case .event(let event) = signal { received = event }
                }
                #expect(received == appended)
                #expect(try await replicaB.head(of: stream) == appended.position)
                subscription.cancel()
            }
        }
    }

    @Test(.requires(.redis)) func presenceChangesReachEveryReplicaAndADeadReplicasConnectionsExpire() async throws {
        let prefix = "test:\(UUID().uuidString):"
        try await withBus(.redis, prefix: prefix) { replicaA in
            try await withBus(.redis, prefix: prefix) { replicaB in
                let changes = await replicaB.presenceChanges()
                var iterator = changes.makeAsyncIterator()
                let online = try await replicaA.markOnline("device-x", connection: "conn", ttl: .seconds(2))
                #expect(online)
                #expect(await iterator.next() == PresenceChange(subject: "device-x", isOnline: true))
                #expect(try await replicaB.isOnline("device-x"))
                // Replica A "dies": nobody refreshes; a sweep announces the device offline once.
                #expect(await iterator.next() == PresenceChange(subject: "device-x", isOnline: false))
                changes.cancel()
            }
        }
    }

    @Test(.requires(.redisServer)) func aRedisRestartTellsSubscribersToCatchUpAndLiveDeliveryResumes() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        defer { Task { await server.cleanUp() } }
        try await withBus(.redis, redisURL: server.url) { bus in
            let subscription = try await bus.subscribe(stream)
            var iterator = subscription.makeAsyncIterator()
            _ = try await bus.append(to: stream, type: "t", data: "before")
            #expect(
                await next(&iterator)
                    == .event(
                        StreamEvent(
                            stream: stream, position: try await bus.head(of: stream), type: "t", data: "before")))

            try await server.restart()
            // The receiver reconnects and reports a gap; then live events flow again.
            var sawGap = false
            while !sawGap, let signal = await next(&iterator, timeout: .seconds(15)) {
                if signal == .gap { sawGap = true }
            }
            #expect(sawGap)
            #expect(await eventually(timeout: .seconds(10)) { await bus.isReceiving })
            var appended: StreamEvent?
            for _ in 0..<50 where appended == nil {
                appended = try? await bus.append(to: stream, type: "t", data: "after")
                if appended == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            var received: StreamEvent?
            while received == nil, let signal = await next(&iterator) {
                if case .event(let event) = signal { received = event }
            }
            #expect(received == appended)
            subscription.cancel()
        }
    }

    @Test(.requires(.redisServer)) func historyLostToFlushallMeansANewEpochAndAResetForOldPositions() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        defer { Task { await server.cleanUp() } }
        try await withBus(.redis, redisURL: server.url, prefix: "gw:") { bus in
            for index in 1...3 { _ = try await bus.append(to: stream, type: "t", data: "\(index)") }
            let before = try await bus.head(of: stream)
            let admin = try RedisClient(url: server.url)
            try await admin.flushall()
            await admin.shutdown()
            let appended = try await bus.append(to: stream, type: "t", data: "new")
            #expect(appended.position.epoch != before.epoch)
            #expect(appended.position.offset == 1)
            #expect(try await bus.read(stream, after: before, limit: 10) == .reset(reason: .epochChanged, head: appended.position))
        }
    }
}

func eventually(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
