import Foundation
import Testing

/// The spec's validation matrix as one scenario: A hosts an agent and shares it; B accepts and
/// chats with streamed replies; B sees A's device go offline and online; A revokes and B is
/// refused and told within a second. `hostBase` and `guestBase` may be two replicas.
struct SharedChatScenario {
    let hostBase: String
    let guestBase: String
    /// How soon B must learn of the revocation. The requirement is 1 s; the in-process variants
    /// run beside the whole parallel suite on two cores and allow more, the process test (run
    /// in its own phase) holds the gateway to 1 s.
    var revocationDeadline: Duration = .seconds(5)

    struct Outcome {
        let alice: APITestClient
        let bob: APITestClient
        let deviceID: String
        let agentID: String
        let shareID: String
        let sessionID: String
    }

    /// Everything up to (not including) revocation; returns what the later phases need.
    func runUntilRevocation() async throws -> Outcome {
        let alice = try await APITestClient.signIn("Alice", at: hostBase)
        let bob = try await APITestClient.signIn("Bob", at: guestBase)
        let deviceID = "alice-laptop-\(UUID().uuidString.prefix(8))"

        // A registers the device (idempotently), opens its stream and publishes an echo agent.
        #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "Alice's laptop", "platform": "macos"]).status == 201)
        #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "Alice's laptop", "platform": "macos"]).status == 200)
        var deviceStream = try await alice.stream("/v1/devices/\(deviceID)/events")
        let published = try await alice.call(.PUT, "/v1/devices/\(deviceID)/agents/echo", ["name": "Echo", "description": "Says it back"])
        #expect(published.status == 201)
        let agentID = try #require(published.json["id"] as? String)

        let share = try await alice.call(.POST, "/v1/agents/\(agentID)/shares", ["label": "for Bob", "max_uses": 5])
        #expect(share.status == 201, "\(share.body)")
        let inviteURL = try #require(share.json["invite_url"] as? String)
        let code = try #require(inviteURL.split(separator: "/").last.map(String.init))
        let shareID = try #require((share.json["share"] as? [String: Any])?["id"] as? String)

        // B accepts (twice: harmless), sees the agent with its host online, opens a session.
        #expect(try await bob.call(.POST, "/v1/invites/\(code)/accept").status == 201)
        #expect(try await bob.call(.POST, "/v1/invites/\(code)/accept").status == 200)
        let agents = try await bob.call(.GET, "/v1/agents").array
        #expect(agents.first { $0["id"] as? String == agentID }?["host_online"] as? Bool == true)
        let bobNotifications = try await bob.stream("/v1/events")
        let session = try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID])
        #expect(session.status == 201, "\(session.body)")
        let sessionID = try #require(session.json["id"] as? String)
        let sessionStream = try await bob.stream("/v1/sessions/\(sessionID)/events")
        #expect(await sessionStream.waitFor { !$0.events(ofType: "stream.open").isEmpty })

        // B chats; the device receives the message and streams a reply back.
        let posted = try await bob.call(
            .POST, "/v1/sessions/\(sessionID)/messages", ["text": "hello there"], headers: [("Idempotency-Key", "m-1")])
        #expect(posted.status == 201, "\(posted.body)")
        #expect(posted.json["host_online"] as? Bool == true)
        let retried = try await bob.call(
            .POST, "/v1/sessions/\(sessionID)/messages", ["text": "hello there"], headers: [("Idempotency-Key", "m-1")])
        #expect(retried.status == 200)
        let messageID = try #require((posted.json["message"] as? [String: Any])?["id"] as? String)
        #expect((retried.json["message"] as? [String: Any])?["id"] as? String == messageID)

        #expect(await deviceStream.waitFor { $0.events(ofType: "message.created").count == 1 }, "the device got the message once")
        for (index, word) in ["hello ", "there"].enumerated() {
            #expect(
                try await alice.call(
                    .POST, "/v1/devices/\(deviceID)/sessions/\(sessionID)/replies",
                    ["kind": "delta", "reply_to": messageID, "index": index, "text": word]
                ).status == 202)
        }
        #expect(
            try await alice.call(
                .POST, "/v1/devices/\(deviceID)/sessions/\(sessionID)/replies",
                ["kind": "done", "reply_to": messageID, "text": "hello there"]
            ).status == 202)
        #expect(await sessionStream.waitFor { !$0.events(ofType: "reply.done").isEmpty })
        #expect(sessionStream.payloads("reply.delta").map { $0["text"] as? String } == ["hello ", "there"])
        #expect(sessionStream.payloads("message.created").count == 1)
        let history = try await bob.call(.GET, "/v1/sessions/\(sessionID)/messages").json["messages"] as? [[String: Any]] ?? []
        #expect(history.map { $0["role"] as? String } == ["user", "agent"])

        // The device goes away and comes back: B's notifications say so.
        await deviceStream.close()
        #expect(
            await bobNotifications.waitFor(timeout: .seconds(5)) {
                $0.payloads("host.status").contains { $0["agent_id"] as? String == agentID && $0["online"] as? Bool == false }
            }, "B sees the host go offline")
        deviceStream = try await alice.stream("/v1/devices/\(deviceID)/events", lastEventID: deviceStream.lastEventID)
        #expect(
            await bobNotifications.waitFor(timeout: .seconds(5)) {
                $0.payloads("host.status").contains { $0["agent_id"] as? String == agentID && $0["online"] as? Bool == true }
            }, "B sees the host come back")
        await deviceStream.close()
        await bobNotifications.close()
        await sessionStream.close()
        return Outcome(alice: alice, bob: bob, deviceID: deviceID, agentID: agentID, shareID: shareID, sessionID: sessionID)
    }

    /// A revokes; B's open stream is told and ends within a second; B is refused everywhere.
    func revoke(_ outcome: Outcome) async throws {
        let bob = outcome.bob
        let sessionStream = try await bob.stream("/v1/sessions/\(outcome.sessionID)/events")
        #expect(await sessionStream.waitFor { !$0.events(ofType: "stream.open").isEmpty })
        let revokedAt = ContinuousClock.now
        #expect(try await outcome.alice.call(.DELETE, "/v1/shares/\(outcome.shareID)").status == 200)
        #expect(
            await sessionStream.waitFor(timeout: revocationDeadline) { !$0.events(ofType: "share.revoked").isEmpty },
            "B is told within \(revocationDeadline)")
        #expect(ContinuousClock.now - revokedAt < revocationDeadline + .milliseconds(100))
        #expect(await sessionStream.waitFor(timeout: .seconds(2)) { $0.isFinished }, "the stream ends")
        let refused = try await bob.call(.POST, "/v1/sessions/\(outcome.sessionID)/messages", ["text": "still there?"])
        #expect(refused.status == 403)
        #expect(refused.problemType == "urn:agent-gateway:problem:share-revoked")
        #expect(try await bob.call(.GET, "/v1/sessions/\(outcome.sessionID)/events").status == 403)
        #expect(try await bob.call(.POST, "/v1/sessions", ["agent_id": outcome.agentID]).status == 404)
        let reply = try await outcome.alice.call(
            .POST, "/v1/devices/\(outcome.deviceID)/sessions/\(outcome.sessionID)/replies", ["kind": "delta", "text": "late"])
        #expect(reply.status == 403, "in-flight replies for the revoked guest stop")
    }
}

@Suite("Shared chat end to end", .serialized)
struct SharedChatEmbeddedTests {
    @Test func onTheEmbeddedDefaults() async throws {
        try await withStreamingGateway(.memory) { base in
            let scenario = SharedChatScenario(hostBase: base, guestBase: base)
            try await scenario.revoke(try await scenario.runUntilRevocation())
        }
    }

    @Test(.requires(.redis, .postgres)) func onRedisAndPostgres() async throws {
        try await withStreamingGateway(.redis) { base in
            let scenario = SharedChatScenario(hostBase: base, guestBase: base)
            try await scenario.revoke(try await scenario.runUntilRevocation())
        }
    }
}
