import Foundation
import GatewayTestSupport
import Testing

/// A reply's lifecycle (docs/protocol.md): `reply.started` with an attempt number, deltas and
/// `done` carrying it, `reply.interrupted` when the host goes away mid-reply, a new attempt when it
/// answers again, and the messages response that lets a client arriving mid-reply replay the
/// current attempt's text so far — on both buses and across two replicas.
@Suite("Reply lifecycle", .serialized)
struct ReplyLifecycleTests {
    /// Alice hosts Echo; Bob chats with it under a share.
    struct Chat {
        let alice: APITestClient
        let bob: APITestClient
        let deviceID: String
        let agentID: String
        let sessionID: String
        let streamPosition: String

        static func open(on base: String, bobOn bobBase: String? = nil) async throws -> Chat {
            let alice = try await APITestClient.signIn("Alice", at: base)
            let bob = try await APITestClient.signIn("Bob", at: bobBase ?? base)
            let deviceID = "alice-\(UUID().uuidString.prefix(8))"
            try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "A", "platform": "linux"])
            let agentID = try #require(
                try await alice.call(.PUT, "/v1/devices/\(deviceID)/agents/echo", ["name": "Echo"]).json["id"] as? String)
            let share = try await alice.call(.POST, "/v1/agents/\(agentID)/shares", [:])
            try await bob.call(.POST, "/v1/invites/\(try #require(share.json["code"] as? String))/accept")
            let session = try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID]).json
            return Chat(
                alice: alice, bob: bob, deviceID: deviceID, agentID: agentID, sessionID: try #require(session["id"] as? String),
                streamPosition: try #require(session["stream_position"] as? String))
        }

        func post(_ text: String) async throws -> String {
            let posted = try await bob.call(.POST, "/v1/sessions/\(sessionID)/messages", ["text": text])
            return try #require((posted.json["message"] as? [String: Any])?["id"] as? String)
        }

        @discardableResult
        func reply(_ kind: String, to messageID: String?, _ text: String = "", index: Int? = nil, session: String? = nil) async throws
            -> APITestClient.Reply
        {
            var body: [String: Any] = ["kind": kind, "text": text]
            if let messageID { body["reply_to"] = messageID }
            if let index { body["index"] = index }
            return try await alice.call(.POST, "/v1/devices/\(deviceID)/sessions/\(session ?? sessionID)/replies", body)
        }

        func messages() async throws -> [String: Any] {
            let reply = try await bob.call(.GET, "/v1/sessions/\(sessionID)/messages")
            #expect(reply.status == 200)
            return reply.json
        }

        func deviceStream() async throws -> SSETestConnection {
            let stream = try await alice.stream("/v1/devices/\(deviceID)/events")
            #expect(await stream.waitFor { !$0.events(ofType: "stream.open").isEmpty })
            return stream
        }
    }

    static func replies(_ list: [String: Any]) -> [[String: Any]] { list["replies"] as? [[String: Any]] ?? [] }

    @Test(arguments: StreamBackend.runnable)
    func attemptsInterruptionsAndReplayMidReply(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend) { base in
            let chat = try await Chat.open(on: base)
            var device = try await chat.deviceStream()
            let session = try await chat.bob.stream("/v1/sessions/\(chat.sessionID)/events", lastEventID: chat.streamPosition)
            let hello = try await chat.post("hello")

            // Attempt 1: picked up (a retried start is not a new attempt), then two pieces.
            #expect(try await chat.reply("started", to: hello).status == 202)
            #expect(try await chat.reply("started", to: hello).status == 202)
            try await chat.reply("delta", to: hello, "Hel", index: 0)
            try await chat.reply("delta", to: hello, "lo", index: 1)
            #expect(await session.waitFor { $0.events(ofType: "reply.delta").count == 2 })
            #expect(session.payloads("reply.started").map { $0["attempt"] as? Int } == [1])
            #expect(session.payloads("reply.delta").map { $0["attempt"] as? Int } == [1, 1])

            // A client arriving now learns the reply is streaming and replays its text so far.
            var list = try await chat.messages()
            #expect(Self.replies(list).map { $0["state"] as? String } == ["streaming"])
            #expect(Self.replies(list).first?["reply_to"] as? String == hello)
            let late = try await chat.bob.stream(
                "/v1/sessions/\(chat.sessionID)/events", lastEventID: try #require(list["stream_position"] as? String))
            #expect(await late.waitFor { $0.events(ofType: "reply.delta").count == 2 })
            #expect(late.payloads("reply.delta").map { $0["text"] as? String } == ["Hel", "lo"])
            #expect(late.events(ofType: "reply.started").count == 1)
            #expect(late.events(ofType: "message.created").isEmpty, "only the reply's own events are replayed")
            await late.close()

            // The host goes away mid-reply: interrupted, within the presence delay.
            await device.close()
            #expect(await session.waitFor(timeout: .seconds(5)) { !$0.events(ofType: "reply.interrupted").isEmpty })
            let interrupted = try #require(session.payloads("reply.interrupted").first)
            #expect(interrupted["reply_to"] as? String == hello)
            #expect(interrupted["attempt"] as? Int == 1)
            #expect(interrupted["reason"] as? String == "host_offline")
            list = try await chat.messages()
            #expect(Self.replies(list).map { $0["state"] as? String } == ["interrupted"])

            // Back, it answers again: attempt 2, and a reload replays only attempt 2.
            device = try await chat.deviceStream()
            try await chat.reply("started", to: hello)
            try await chat.reply("delta", to: hello, "Hi", index: 0)
            #expect(await session.waitFor { $0.events(ofType: "reply.delta").count == 3 })
            #expect(session.payloads("reply.started").map { $0["attempt"] as? Int } == [1, 2])
            #expect(session.payloads("reply.delta").last?["attempt"] as? Int == 2)
            list = try await chat.messages()
            #expect(Self.replies(list).map { $0["attempt"] as? Int } == [2])
            let reloaded = try await chat.bob.stream(
                "/v1/sessions/\(chat.sessionID)/events", lastEventID: try #require(list["stream_position"] as? String))
            #expect(await reloaded.waitFor { !$0.events(ofType: "reply.delta").isEmpty })
            try await Task.sleep(for: .milliseconds(100))
            #expect(reloaded.payloads("reply.delta").map { $0["text"] as? String } == ["Hi"])
            #expect(reloaded.events(ofType: "reply.interrupted").isEmpty)
            await reloaded.close()

            try await chat.reply("done", to: hello, "Hi there")
            #expect(await session.waitFor { !$0.events(ofType: "reply.done").isEmpty })
            let done = try #require(session.payloads("reply.done").first)
            #expect(done["attempt"] as? Int == 2)
            #expect(done["stopped"] == nil)
            list = try await chat.messages()
            #expect(Self.replies(list).isEmpty)
            // A late piece of a finished reply changes nothing.
            try await chat.reply("delta", to: hello, "stray", index: 5)
            try await Task.sleep(for: .milliseconds(100))
            #expect(session.events(ofType: "reply.delta").count == 3)

            // A stop request is remembered and said on `done`.
            let second = try await chat.post("tell me more")
            try await chat.reply("started", to: second)
            #expect(try await chat.bob.call(.POST, "/v1/sessions/\(chat.sessionID)/messages/\(second)/stop").status == 204)
            list = try await chat.messages()
            #expect(Self.replies(list).first?["stop_requested"] as? Bool == true)
            try await chat.reply("done", to: second, "partial")
            #expect(await session.waitFor { $0.events(ofType: "reply.done").count == 2 })
            #expect(session.payloads("reply.done").last?["stopped"] as? Bool == true)

            // A host that sends no `started` (older versions): its first delta starts attempt 1.
            let third = try await chat.post("and again")
            try await chat.reply("delta", to: third, "x", index: 0)
            // The started and delta events are separate bus messages: wait for both.
            #expect(
                await session.waitFor {
                    $0.events(ofType: "reply.started").count == 4 && $0.events(ofType: "reply.delta").count == 4
                })
            #expect(session.payloads("reply.started").last?["attempt"] as? Int == 1)
            #expect(session.payloads("reply.delta").last?["attempt"] as? Int == 1)

            // Starting a reply needs a message of this session that is not answered yet.
            #expect(try await chat.reply("started", to: hello).status == 409)
            #expect(try await chat.reply("started", to: UUID().uuidString).status == 404)
            #expect(try await chat.reply("started", to: nil).status == 400)
            await session.close()
            await device.close()
        }
    }

    /// Only the host's owner starts replies, and only the session's user reads its progress.
    @Test func anotherUserCanNeitherStartAReplyNorReadItsProgress() async throws {
        try await withStreamingGateway(.memory) { base in
            let chat = try await Chat.open(on: base)
            let hello = try await chat.post("hello")
            let mallory = try await APITestClient.signIn("Mallory", at: base)
            let forged = try await mallory.call(
                .POST, "/v1/devices/\(chat.deviceID)/sessions/\(chat.sessionID)/replies", ["kind": "started", "reply_to": hello])
            #expect(forged.status == 404)
            let bobAsHost = try await chat.bob.call(
                .POST, "/v1/devices/\(chat.deviceID)/sessions/\(chat.sessionID)/replies", ["kind": "started", "reply_to": hello])
            #expect(bobAsHost.status == 404)
            #expect(try await mallory.call(.GET, "/v1/sessions/\(chat.sessionID)/messages").status == 404)
        }
    }

    /// The host on replica A, the guest on replica B: every lifecycle event reaches B, and B's
    /// messages response knows what A's requests did.
    @Test(.requires(.redis, .postgres)) func theLifecycleCrossesReplicas() async throws {
        let shared = [
            "REDIS_KEY_PREFIX": "test:\(UUID().uuidString):", "DATABASE_URL": try await TestEnvironment.createDatabase(),
        ]
        try await withStreamingGateway(.redis, environment: shared) { replicaA in
            try await withStreamingGateway(.redis, environment: shared) { replicaB in
                let chat = try await Chat.open(on: replicaA, bobOn: replicaB)
                let device = try await chat.deviceStream()
                let session = try await chat.bob.stream("/v1/sessions/\(chat.sessionID)/events", lastEventID: chat.streamPosition)
                let hello = try await chat.post("hello")
                try await chat.reply("started", to: hello)
                try await chat.reply("delta", to: hello, "Hel", index: 0)
                #expect(await session.waitFor { !$0.events(ofType: "reply.delta").isEmpty })
                #expect(Self.replies(try await chat.messages()).map { $0["state"] as? String } == ["streaming"])
                await device.close()
                #expect(await session.waitFor(timeout: .seconds(5)) { !$0.events(ofType: "reply.interrupted").isEmpty })
                #expect(Self.replies(try await chat.messages()).map { $0["state"] as? String } == ["interrupted"])
                await session.close()
            }
        }
    }

    /// AI clients are told clearly when the host goes away mid-reply: a streamed completion ends
    /// with an `agent_interrupted` error event, a plain one answers 502, an MCP tool call is a
    /// tool error that says the host answers again when it is back. Never a silent stall.
    @Test(arguments: StreamBackend.runnable)
    func aReplyCutOffByItsHostIsAnErrorForAIClients(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend) { base in
            let alice = try await ThirdPartyBoundaryTests.owner(base)
            let tools = try await ThirdPartyBoundaryTests.rpc(base, alice.key, ["jsonrpc": "2.0", "id": 1, "method": "tools/list"])
            let tool = try #require(((tools.json["result"] as? [String: Any])?["tools"] as? [[String: Any]])?.first?["name"] as? String)
            let requests: [(String, @Sendable () async throws -> APITestClient.Reply)] = [
                (
                    "streamed completion",
                    {
                        try await ThirdPartyBoundaryTests.completion(
                            base, key: alice.key,
                            ["model": alice.agentID, "stream": true, "messages": [["role": "user", "content": "hi"]]])
                    }
                ),
                (
                    "completion",
                    {
                        try await ThirdPartyBoundaryTests.completion(
                            base, key: alice.key, ["model": alice.agentID, "messages": [["role": "user", "content": "hi"]]])
                    }
                ),
                (
                    "tool call",
                    { try await ThirdPartyBoundaryTests.rpc(base, alice.key, ThirdPartyBoundaryTests.toolCall(tool, "hi", id: 2)) }
                ),
            ]
            for (what, send) in requests {
                let device = try await alice.api.stream("/v1/devices/\(alice.deviceID)/events")
                #expect(await device.waitFor { !$0.events(ofType: "stream.open").isEmpty })
                let request = Task { try await send() }
                #expect(await device.waitFor { !$0.payloads("message.created").isEmpty }, "\(what)")
                let created = try #require(device.payloads("message.created").last)
                let sessionID = try #require(created["session_id"] as? String)
                let messageID = try #require((created["message"] as? [String: Any])?["id"] as? String)
                let replies = "/v1/devices/\(alice.deviceID)/sessions/\(sessionID)/replies"
                try await alice.api.call(.POST, replies, ["kind": "started", "reply_to": messageID])
                try await alice.api.call(.POST, replies, ["kind": "delta", "reply_to": messageID, "index": 0, "text": "Hel"])
                try await Task.sleep(for: .milliseconds(100))
                await device.close() // the host goes away mid-reply
                let started = ContinuousClock.now
                let reply = try await request.value
                #expect(ContinuousClock.now - started < .seconds(5), "\(what) ended \(ContinuousClock.now - started) after the host left")
                switch what {
                case "streamed completion":
                    #expect(reply.status == 200 && reply.body.contains(#""content":"Hel""#), "\(reply.body)")
                    #expect(reply.body.contains("agent_interrupted") && !reply.body.contains(#""finish_reason":"stop""#), "\(reply.body)")
                case "completion":
                    #expect(reply.status == 502, "\(reply.body)")
                    #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "agent_interrupted", "\(reply.body)")
                default:
                    let result = reply.json["result"] as? [String: Any]
                    #expect(result?["isError"] as? Bool == true, "\(reply.body)")
                    #expect(reply.body.contains("went offline in the middle of the reply"), "\(reply.body)")
                    #expect(reply.body.contains("answers again in this conversation"), "\(reply.body)")
                    #expect(reply.body.contains("conversation_id: \(sessionID)"), "the error names the conversation: \(reply.body)")
                }
            }
        }
    }
}
