import Foundation
import Testing

/// A host can always learn what it still has to answer from the store, also when its device
/// stream lost the `message.created` events (history trimmed, Redis flushed).
@Suite("Unanswered messages")
struct UnansweredMessagesTests {
    @Test func listsOpenSessionsUserMessagesWithoutAStoredReplyOldestFirst() async throws {
        try await withGateway { client in
            let base = client.transport
            let alice = try await APITestClient.signIn("Alice", via: base)
            let bob = try await APITestClient.signIn("Bob", via: base)
            let carol = try await APITestClient.signIn("Carol", via: base)
            let deviceID = "alice-\(UUID().uuidString.prefix(8))"
            try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "A", "platform": "linux"])
            let agentID = try #require(
                try await alice.call(.PUT, "/v1/devices/\(deviceID)/agents/echo", ["name": "Echo"]).json["id"] as? String)
            let bobShare = try await alice.call(.POST, "/v1/agents/\(agentID)/shares", [:])
            let carolShare = try await alice.call(.POST, "/v1/agents/\(agentID)/shares", [:])
            try await bob.call(.POST, "/v1/invites/\(try #require(bobShare.json["code"] as? String))/accept")
            try await carol.call(.POST, "/v1/invites/\(try #require(carolShare.json["code"] as? String))/accept")
            let bobSession = try #require(try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID]).json["id"] as? String)
            let carolSession = try #require(try await carol.call(.POST, "/v1/sessions", ["agent_id": agentID]).json["id"] as? String)

            // The host is offline: every message is queued.
            var ids: [String] = []
            for text in ["first", "second", "third"] {
                let posted = try await bob.call(.POST, "/v1/sessions/\(bobSession)/messages", ["text": text])
                #expect(posted.json["queued"] as? Bool == true)
                ids.append(try #require((posted.json["message"] as? [String: Any])?["id"] as? String))
            }
            try await carol.call(.POST, "/v1/sessions/\(carolSession)/messages", ["text": "from carol"])

            func unanswered() async throws -> [[String: Any]] {
                let reply = try await alice.call(.GET, "/v1/devices/\(deviceID)/unanswered")
                #expect(reply.status == 200)
                return try #require(reply.json["messages"] as? [[String: Any]])
            }
            func texts(_ items: [[String: Any]]) -> [String] {
                items.compactMap { ($0["message"] as? [String: Any])?["text"] as? String }
            }
            let all = try await unanswered()
            #expect(texts(all) == ["first", "second", "third", "from carol"])
            let first = try #require(all.first)
            #expect(first["session_id"] as? String == bobSession)
            #expect(first["agent_id"] as? String == agentID)
            #expect(first["agent_key"] as? String == "echo")
            #expect((first["user"] as? [String: Any])?["display_name"] as? String == "Bob")

            // A stored answer removes its message; a delta or an error does not.
            try await alice.call(
                .POST, "/v1/devices/\(deviceID)/sessions/\(bobSession)/replies",
                ["kind": "delta", "reply_to": ids[1], "index": 0, "text": "par"])
            try await alice.call(
                .POST, "/v1/devices/\(deviceID)/sessions/\(bobSession)/replies", ["kind": "error", "reply_to": ids[0], "text": "busy"])
            try await alice.call(
                .POST, "/v1/devices/\(deviceID)/sessions/\(bobSession)/replies", ["kind": "done", "reply_to": ids[1], "text": "answer"])
            #expect(texts(try await unanswered()) == ["first", "third", "from carol"])

            // A revoked share's and a closed session's messages are no longer the host's business.
            let carolShareID = try #require((carolShare.json["share"] as? [String: Any])?["id"] as? String)
            #expect(try await alice.call(.DELETE, "/v1/shares/\(carolShareID)").status == 200)
            #expect(texts(try await unanswered()) == ["first", "third"])
            #expect(try await bob.call(.DELETE, "/v1/sessions/\(bobSession)").status == 204)
            #expect(try await unanswered().isEmpty)
        }
    }
}
