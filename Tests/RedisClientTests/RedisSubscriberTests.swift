import GatewayTestSupport
import NIOCore
import RedisClient
import Testing

@Suite(.requires(.redisServer)) struct RedisSubscriberTests {
    /// Runs a subscriber against `url`, recording its events, and stops it afterwards.
    private func withSubscriber(
        _ configuration: RedisConfiguration,
        _ body: (RedisSubscriber, EventRecorder) async throws -> Void
    ) async throws {
        let subscriber = try RedisSubscriber(configuration: configuration, logger: testLogger)
        let recorder = EventRecorder()
        let consumer = Task {
            for await event in subscriber.events { await recorder.record(event) }
        }
        let runner = Task { await subscriber.run() }
        do {
            try await body(subscriber, recorder)
        } catch {
            runner.cancel()
            await runner.value
            await consumer.value
            throw error
        }
        runner.cancel()
        await runner.value
        // run() finishes the event stream when it returns.
        await consumer.value
    }

    private static func isMessage(_ channel: String, _ payload: String) -> @Sendable (RedisSubscriptionEvent) -> Bool {
        { event in event == .message(channel: channel, payload: ByteBuffer(string: payload)) }
    }

    @Test(arguments: [RESPProtocolVersion.resp3, .resp2])
    func receivesMessagesAndPatternMessages(version: RESPProtocolVersion) async throws {
        try await withRedisServer { server throws in
            let configuration = try testConfiguration(server.url, protocolVersion: version)
            try await withClient(configuration) { publisher throws in
                try await withSubscriber(configuration) { subscriber, events throws in
                    #expect(try await events.next() == .connected)
                    try await subscriber.subscribe(["chat:1", "chat:2"])
                    try await subscriber.psubscribe(["room:*"])
                    #expect(await subscriber.subscribedChannels == ["chat:1", "chat:2"])

                    #expect(try await publisher.publish("chat:1", "hello") == 1)
                    #expect(try await publisher.publish("room:7", "pattern") == 1)
                    #expect(try await publisher.publish("chat:2", ByteBuffer(bytes: [0, 255, 10])) == 1)
                    #expect(try await events.next() == .message(channel: "chat:1", payload: ByteBuffer(string: "hello")))
                    #expect(
                        try await events.next()
                            == .patternMessage(pattern: "room:*", channel: "room:7", payload: ByteBuffer(string: "pattern"))
                    )
                    #expect(try await events.next() == .message(channel: "chat:2", payload: ByteBuffer(bytes: [0, 255, 10])))

                    try await subscriber.unsubscribe(["chat:1"])
                    try await subscriber.punsubscribe(["room:*"])
                    #expect(try await publisher.publish("chat:1", "unheard") == 0)
                    #expect(try await publisher.publish("room:8", "unheard") == 0)
                    #expect(try await publisher.publish("chat:2", "still here") == 1)
                    #expect(try await events.next() == .message(channel: "chat:2", payload: ByteBuffer(string: "still here")))

                    // Many messages arrive complete and in order.
                    let count = 2000
                    _ = try await publisher.pipeline((0..<count).map { RedisCommand("PUBLISH", "chat:2", "m\($0)") })
                    for index in 0..<count {
                        let event = try await events.next()
                        #expect(event == .message(channel: "chat:2", payload: ByteBuffer(string: "m\(index)")))
                    }
                }
            }
        }
    }

    @Test func subscriptionsMadeBeforeConnectingAreAppliedOnConnect() async throws {
        try await withRedisServer { server throws in
            let configuration = try testConfiguration(server.url)
            let subscriber = try RedisSubscriber(configuration: configuration, logger: testLogger)
            try await subscriber.subscribe(["early"])
            let recorder = EventRecorder()
            let consumer = Task { for await event in subscriber.events { await recorder.record(event) } }
            let runner = Task { await subscriber.run() }
            #expect(try await recorder.next() == .connected)
            try await withClient(configuration) { publisher throws in
                #expect(try await publisher.publish("early", "bird") == 1)
            }
            #expect(try await recorder.next() == .message(channel: "early", payload: ByteBuffer(string: "bird")))
            await subscriber.shutdown()
            await runner.value
            await consumer.value
        }
    }

    @Test func rejectedSubscriptionThrowsAndKeepsTheConnectionUsable() async throws {
        // An ACL user that may only use channels matching "allowed:*".
        let arguments = ["--user", "limited", "on", ">pw", "resetchannels", "&allowed:*", "+@all", "~*"]
        try await withRedisServer(arguments: arguments) { server throws in
            for version in [RESPProtocolVersion.resp3, .resp2] {
                let configuration = try testConfiguration(
                    "redis://limited:pw@127.0.0.1:\(server.port)",
                    protocolVersion: version
                )
                try await withClient(configuration) { publisher throws in
                    try await withSubscriber(configuration) { subscriber, events throws in
                        #expect(try await events.next() == .connected)
                        let error = await expectRedisError { try await subscriber.subscribe(["forbidden"]) }
                        #expect(error?.serverErrorCode == "NOPERM", "got \(String(describing: error))")
                        #expect(await subscriber.subscribedChannels.isEmpty)

                        // A channel of its own per protocol: the previous iteration's subscriber may
                        // not have been dropped by the server yet.
                        let channel = "allowed:\(version.rawValue)"
                        try await subscriber.subscribe([channel])
                        #expect(try await publisher.publish(channel, "ok") == 1)
                        #expect(try await events.next() == .message(channel: channel, payload: ByteBuffer(string: "ok")))
                    }
                }
            }
        }
    }

    @Test(arguments: [RESPProtocolVersion.resp3, .resp2])
    func reconnectsAndResubscribesAfterRestart(version: RESPProtocolVersion) async throws {
        try await withRedisServer { server throws in
            let configuration = try testConfiguration(server.url, protocolVersion: version)
            try await withClient(configuration) { publisher throws in
                try await withSubscriber(configuration) { subscriber, events throws in
                    #expect(try await events.next() == .connected)
                    try await subscriber.subscribe(["stream:1"])
                    try await subscriber.psubscribe(["run:*"])
                    #expect(try await publisher.publish("stream:1", "before") == 1)
                    #expect(try await events.next() == .message(channel: "stream:1", payload: ByteBuffer(string: "before")))

                    try await server.restart()

                    // The consumer learns about the gap: disconnected, then reconnected.
                    let disconnected = try await events.next { !$0.isMessage }
                    #expect(disconnected == .disconnected(.connectionClosed))
                    #expect(try await events.next { !$0.isMessage } == .reconnected)
                    #expect(await subscriber.isConnected)

                    // Resubscribed to both the channel and the pattern on the new server.
                    let receivers = try await eventually { try await publisher.publish("stream:1", "after") }
                    #expect(receivers == 1)
                    #expect(try await publisher.publish("run:42", "pattern after") == 1)
                    _ = try await events.next(where: Self.isMessage("stream:1", "after"))
                    #expect(
                        try await events.next()
                            == .patternMessage(pattern: "run:*", channel: "run:42", payload: ByteBuffer(string: "pattern after"))
                    )
                }
            }
        }
    }

    @Test func keepsRetryingWhileTheServerIsDown() async throws {
        try await withRedisServer { server throws in
            let configuration = try testConfiguration(server.url)
            try await withSubscriber(configuration) { subscriber, events throws in
                #expect(try await events.next() == .connected)
                try await subscriber.subscribe(["c"])
                await server.kill()
                #expect(try await events.next() == .disconnected(.connectionClosed))
                #expect(await subscriber.isConnected == false)
                // Changes while disconnected are remembered and applied on reconnect.
                try await subscriber.subscribe(["d"])
                try await Task.sleep(for: .milliseconds(800)) // several failed attempts with backoff
                try await server.start()
                #expect(try await events.next(timeout: .seconds(5)) == .reconnected)
                try await withClient(configuration) { publisher throws in
                    #expect(try await publisher.publish("c", "1") == 1)
                    #expect(try await publisher.publish("d", "2") == 1)
                }
                #expect(try await events.next() == .message(channel: "c", payload: ByteBuffer(string: "1")))
                #expect(try await events.next() == .message(channel: "d", payload: ByteBuffer(string: "2")))
            }
        }
    }
}
