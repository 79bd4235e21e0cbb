import Foundation
import Testing

/// Conversations people keep: named (`PATCH /v1/sessions/{id}`) and deleted with their messages
/// (`DELETE /v1/sessions/{id}?erase=true`), by their user only.
@Suite("Conversations renamed and deleted")
struct ConversationTests {
    @Test(arguments: StreamBackend.runnable)
    func aGuestRenamesAndDeletesTheirConversations(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend) { base in
            let chat = try await ReplyLifecycleTests.Chat.open(on: base)
            let device = try await chat.deviceStream()
            _ = try await chat.post("hello")
            let path = "/v1/sessions/\(chat.sessionID)"

            let renamed = try await chat.bob.call(.PATCH, path, ["title": "  Release plan  "])
            #expect(renamed.status == 200)
            #expect(renamed.json["title"] as? String == "Release plan")
            let listed = try await chat.bob.call(.GET, "/v1/sessions").array.first { $0["id"] as? String == chat.sessionID }
            #expect(listed?["title"] as? String == "Release plan")
            // Bad titles change nothing.
            for bad: Any in [String(repeating: "x", count: 101), "bidi \u{202E}txt", 42] {
                let refused = try await chat.bob.call(.PATCH, path, ["title": bad])
                #expect(refused.status == 400, "\(bad): \(refused.body)")
            }
            #expect(try await chat.bob.call(.GET, path).json["title"] as? String == "Release plan")
            // Someone else's conversation: not found, for the agent's owner too.
            let mallory = try await APITestClient.signIn("Mallory", at: base)
            for stranger in [mallory, chat.alice] {
                #expect(try await stranger.call(.PATCH, path, ["title": "mine"]).status == 404)
                #expect(try await stranger.call(.DELETE, path + "?erase=true").status == 404)
            }
            #expect(try await chat.bob.call(.DELETE, path + "?erase=maybe").status == 400)
            // A blank title removes the name.
            #expect(try await chat.bob.call(.PATCH, path, ["title": ""]).json["title"] == nil)

            // Deleted: closed for the host, then gone with its messages.
            #expect(try await chat.bob.call(.DELETE, path + "?erase=true").status == 204)
            #expect(await device.waitFor { $0.payloads("session.closed").contains { $0["session_id"] as? String == chat.sessionID } })
            #expect(try await chat.bob.call(.GET, path).status == 404)
            #expect(try await chat.bob.call(.GET, path + "/messages").status == 404)
            #expect(!(try await chat.bob.call(.GET, "/v1/sessions").array.contains { $0["id"] as? String == chat.sessionID }))
            await device.close()
        }
    }

    /// What a guest wrote is theirs to erase, also after the owner revoked the share.
    @Test func aConversationUnderARevokedShareCanStillBeDeleted() async throws {
        try await withStreamingGateway(.memory) { base in
            let chat = try await ReplyLifecycleTests.Chat.open(on: base)
            _ = try await chat.post("hello")
            let shares = try await chat.alice.call(.GET, "/v1/shares").array
            let shareID = try #require(shares.first?["id"] as? String)
            #expect(try await chat.alice.call(.DELETE, "/v1/shares/\(shareID)").status == 200)
            #expect(try await chat.bob.call(.GET, "/v1/sessions/\(chat.sessionID)/messages").status == 403)
            #expect(try await chat.bob.call(.DELETE, "/v1/sessions/\(chat.sessionID)?erase=true").status == 204)
            #expect(!(try await chat.bob.call(.GET, "/v1/sessions").array.contains { $0["id"] as? String == chat.sessionID }))
        }
    }
}
