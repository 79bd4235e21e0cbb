import Foundation
import GatewayTestSupport
import RedisClient
import Testing

@Suite("Event streams through Redis outages", .serialized)
struct EventStreamOutageTests {
    @Test(.requires(.postgres, .redisServer)) func redisRestartAndFlushallDuringStreaming() async throws {
        let redis = try RedisServerProcess()
        try await redis.start()
        defer { Task { await redis.cleanUp() } }
        try await withStreamingGateway(.redis, redisURL: redis.url) { base in
            let connection = try await SSETestConnection.open("\(base)/test/streams/session:outage")
            #expect(await connection.waitFor { !$0.events(ofType: "stream.open").isEmpty })
            let before = try await append(base, "session:outage", "before")
            #expect(await connection.waitFor { $0.events(ofType: "test.event").map(\.id) == [before] })

            // Redis restarts (empty: no persistence) and the gateway recovers by itself. (That
            // /readyz reports the outage meanwhile is checked by the process tests, which hold
            // Redis down long enough to look.)
            try await redis.restart()
            #expect(
                await eventually(timeout: .seconds(15), every: .milliseconds(50)) {
                    (try? await httpGet("\(base)/readyz").status) == 200
                }, "/readyz did not return to 200")

            // Events appended once Redis is back reach the open stream. History was lost with the
            // restart, so the stream first says `reset` (never silence), then delivers them.
            let after = try await append(base, "session:outage", "after")
            #expect(await connection.waitFor { $0.events.contains { $0.id == after } })
            #expect(connection.events.contains { $0.event == "reset" })
            #expect(connection.events(ofType: "test.event").map(\.data) == ["before", "after"])

            // FLUSHALL while streaming: a client resuming from an old id gets a reset.
            let admin = try RedisClient(url: redis.url)
            try await admin.flushall()
            await admin.shutdown()
            let newest = try await append(base, "session:outage", "flushed")
            let resumed = try await SSETestConnection.open("\(base)/test/streams/session:outage", lastEventID: after)
            #expect(await resumed.waitFor { !$0.events(ofType: "reset").isEmpty })
            #expect(resumed.events(ofType: "reset").first?.id == newest)
            #expect(await connection.waitFor { $0.events.contains { $0.id == newest } })
            await resumed.close()
            await connection.close()
        }
    }
}

@Suite("Event streams across replicas", .serialized)
struct EventStreamReplicaTests {
    @Test(.requires(.redis, .postgres)) func eventsAppendedThroughOneReplicaReachClientsOfAnotherAndResumeMovesBetweenThem() async throws {
        let shared = [
            "REDIS_KEY_PREFIX": "test:\(UUID().uuidString):", "DATABASE_URL": try await TestEnvironment.createDatabase(),
        ]
        try await withStreamingGateway(.redis, environment: shared) { replicaA in
            try await withStreamingGateway(.redis, environment: shared) { replicaB in
                let onB = try await SSETestConnection.open("\(replicaB)/test/streams/session:replicas")
                #expect(await onB.waitFor { !$0.events(ofType: "stream.open").isEmpty })
                var ids: [String] = []
                for index in 1...5 { ids.append(try await append(replicaA, "session:replicas", "\(index)")) }
                #expect(await onB.waitFor { $0.events(ofType: "test.event").count == 5 })
                #expect(onB.events(ofType: "test.event").map(\.id) == ids)
                await onB.close()

                // The client moves to replica A with its last id; events appended meanwhile arrive once.
                for index in 6...8 { ids.append(try await append(replicaB, "session:replicas", "\(index)")) }
                let onA = try await SSETestConnection.open("\(replicaA)/test/streams/session:replicas", lastEventID: ids[4])
                #expect(await onA.waitFor { $0.events(ofType: "test.event").count == 3 })
                try await Task.sleep(for: .milliseconds(100))
                #expect(onA.events(ofType: "test.event").map(\.data) == ["6", "7", "8"])
                await onA.close()
            }
        }
    }
}
