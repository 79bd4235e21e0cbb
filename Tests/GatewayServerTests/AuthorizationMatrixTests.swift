import Foundation
import Testing

/// Every `/v1` route refuses a signed-in user who is neither the owner nor a grantee, a guest
/// cannot reach the owner's devices or other guests' sessions, a device cannot answer in a
/// session of an agent it does not host, and a revoked guest is refused everywhere.
@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    struct World {
        let alice: APITestClient
        let bob: APITestClient
        let carol: APITestClient
        let mallory: APITestClient
        let deviceID: String
        let agentID: String
        let shareID: String
        let code: String
        let bobSession: String
        let carolSession: String
        let malloryDevice: String
    }

    func makeWorld(_ base: GatewayTransport) async throws -> World {
        let alice = try await APITestClient.signIn("Alice", via: base)
        let bob = try await APITestClient.signIn("Bob", via: base)
        let carol = try await APITestClient.signIn("Carol", via: base)
        let mallory = try await APITestClient.signIn("Mallory", via: base)
        let deviceID = "alice-\(UUID().uuidString.prefix(8))"
        try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "A", "platform": "linux"])
        let agentID = try #require(
            try await alice.call(.PUT, "/v1/devices/\(deviceID)/agents/echo", ["name": "Echo"]).json["id"] as? String)
        let share = try await alice.call(.POST, "/v1/agents/\(agentID)/shares", [:])
        let shareID = try #require((share.json["share"] as? [String: Any])?["id"] as? String)
        let code = try #require(share.json["code"] as? String)
        try await bob.call(.POST, "/v1/invites/\(code)/accept")
        try await carol.call(.POST, "/v1/invites/\(code)/accept")
        let bobSession = try #require(try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID]).json["id"] as? String)
        let carolSession = try #require(try await carol.call(.POST, "/v1/sessions", ["agent_id": agentID]).json["id"] as? String)
        let malloryDevice = "mallory-\(UUID().uuidString.prefix(8))"
        try await mallory.call(.PUT, "/v1/devices/\(malloryDevice)", ["name": "M", "platform": "linux"])
        try await mallory.call(.PUT, "/v1/devices/\(malloryDevice)/agents/echo", ["name": "Echo"])
        return World(
            alice: alice, bob: bob, carol: carol, mallory: mallory, deviceID: deviceID, agentID: agentID, shareID: shareID, code: code,
            bobSession: bobSession, carolSession: carolSession, malloryDevice: malloryDevice)
    }

    /// Requests on resources of Alice's agent and Bob's session, with the status a stranger gets.
    func strangerRequests(_ w: World) -> [(String, String, [String: Any]?, Set<Int>)] {
        [
            ("GET", "/v1/devices/\(w.deviceID)", nil, [404]),
            ("PUT", "/v1/devices/\(w.deviceID)", ["name": "mine now"], [409]),
            ("PATCH", "/v1/devices/\(w.deviceID)", ["name": "x"], [404]),
            ("DELETE", "/v1/devices/\(w.deviceID)", nil, [404]),
            ("GET", "/v1/devices/\(w.deviceID)/events", nil, [404]),
            ("GET", "/v1/devices/\(w.deviceID)/unanswered", nil, [404]),
            ("PUT", "/v1/devices/\(w.deviceID)/agents/evil", ["name": "x"], [404]),
            ("DELETE", "/v1/devices/\(w.deviceID)/agents/echo", nil, [404]),
            ("POST", "/v1/devices/\(w.deviceID)/sessions/\(w.bobSession)/replies", ["kind": "delta", "text": "x"], [404]),
            ("GET", "/v1/agents/\(w.agentID)", nil, [404]),
            ("POST", "/v1/agents/\(w.agentID)/shares", [:], [404]),
            ("DELETE", "/v1/shares/\(w.shareID)", nil, [404]),
            ("DELETE", "/v1/shares/\(w.shareID)/grant", nil, [404]),
            ("POST", "/v1/sessions", ["agent_id": w.agentID], [404]),
            ("GET", "/v1/sessions/\(w.bobSession)", nil, [404]),
            ("DELETE", "/v1/sessions/\(w.bobSession)", nil, [404]),
            ("GET", "/v1/sessions/\(w.bobSession)/messages", nil, [404]),
            ("POST", "/v1/sessions/\(w.bobSession)/messages", ["text": "hi"], [404]),
            ("POST", "/v1/sessions/\(w.bobSession)/messages/\(UUID().uuidString)/stop", nil, [404]),
            ("GET", "/v1/sessions/\(w.bobSession)/events", nil, [404]),
        ]
    }

    @Test func aStrangerIsRefusedOnEveryRouteAndSeesNothingInListings() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            for (method, path, body, expected) in strangerRequests(w) {
                let reply = try await w.mallory.call(.init(rawValue: method), path, body)
                #expect(expected.contains(reply.status), "\(method) \(path) gave \(reply.status)")
                #expect(reply.headers.first(name: "Content-Type") == "application/problem+json", "\(method) \(path)")
            }
            // Listings only ever show the caller's own things.
            #expect(try await w.mallory.call(.GET, "/v1/devices").array.map { $0["id"] as? String } == [w.malloryDevice])
            #expect(try await w.mallory.call(.GET, "/v1/agents").array.allSatisfy { $0["device_id"] as? String == w.malloryDevice })
            #expect(try await w.mallory.call(.GET, "/v1/shares").array.isEmpty)
            #expect(try await w.mallory.call(.GET, "/v1/shares/incoming").array.isEmpty)
            #expect(try await w.mallory.call(.GET, "/v1/sessions").array.isEmpty)
            // Nothing was changed by the refused requests.
            #expect(try await w.alice.call(.GET, "/v1/devices/\(w.deviceID)").json["name"] as? String == "A")
            #expect(try await w.bob.call(.GET, "/v1/sessions/\(w.bobSession)").status == 200)
        }
    }

    @Test func withoutATokenEveryV1RouteIs401() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            let anonymous = APITestClient(transport: base, token: "", name: "nobody")
            for (method, path, body, _) in strangerRequests(w) + [("GET", "/v1/events", nil, []), ("GET", "/v1/me", nil, [])] {
                let reply = try await anonymous.call(.init(rawValue: method), path, body)
                #expect(reply.status == 401, "\(method) \(path) gave \(reply.status)")
            }
        }
    }

    @Test func guestsCannotReachTheOwnersDevicesOrOtherGuests() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            #expect(try await w.bob.call(.GET, "/v1/devices/\(w.deviceID)").status == 404)
            #expect(try await w.bob.call(.GET, "/v1/devices/\(w.deviceID)/events").status == 404)
            #expect(try await w.bob.call(.GET, "/v1/devices/\(w.deviceID)/unanswered").status == 404, "guests do not read the host's queue")
            #expect(try await w.bob.call(.PATCH, "/v1/devices/\(w.deviceID)", ["name": "x"]).status == 404)
            #expect(try await w.bob.call(.DELETE, "/v1/shares/\(w.shareID)").status == 404, "only the owner revokes")
            #expect(try await w.bob.call(.GET, "/v1/sessions/\(w.carolSession)").status == 404)
            #expect(try await w.bob.call(.GET, "/v1/sessions/\(w.carolSession)/events").status == 404)
            #expect(try await w.bob.call(.POST, "/v1/sessions/\(w.carolSession)/messages", ["text": "psst"]).status == 404)
            let carols = try await w.carol.call(.POST, "/v1/sessions/\(w.carolSession)/messages", ["text": "mine"])
            let carolsMessage = try #require((carols.json["message"] as? [String: Any])?["id"] as? String)
            #expect(try await w.bob.call(.POST, "/v1/sessions/\(w.carolSession)/messages/\(carolsMessage)/stop").status == 404)
            let shares = try await w.bob.call(.GET, "/v1/shares/incoming").array
            #expect(shares.allSatisfy { $0["guests"] == nil || $0["guests"] is NSNull }, "a guest does not see other guests")
            #expect(try await w.alice.call(.GET, "/v1/sessions/\(w.bobSession)").status == 404, "the owner does not read guests' sessions")
        }
    }

    @Test func apiKeysAreTheirOwnersOnlyAndOpenNothingButTheOpenAIRoutes() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            let created = try await w.alice.call(.POST, "/v1/api-keys", ["name": "laptop"])
            #expect(created.status == 201)
            let key = try #require(created.json["key"] as? String)
            let id = try #require((created.json["api_key"] as? [String: Any])?["id"] as? String)
            #expect(try await w.mallory.call(.DELETE, "/v1/api-keys/\(id)").status == 404, "only the owner revokes a key")
            #expect(try await w.mallory.call(.GET, "/v1/api-keys").array.isEmpty, "nobody sees another's keys")
            #expect(try await w.alice.call(.GET, "/v1/api-keys").array.count == 1)
            // The key itself: the OpenAI-compatible routes yes, the rest of /v1 no.
            let holder = APITestClient(transport: base, token: key, name: "alice's key")
            #expect(try await holder.call(.GET, "/v1/models").status == 200)
            for (method, path) in [("GET", "/v1/me"), ("GET", "/v1/agents"), ("GET", "/v1/api-keys"), ("DELETE", "/v1/api-keys/\(id)")] {
                #expect(try await holder.call(.init(rawValue: method), path).status == 401, "\(method) \(path) with an API key")
            }
            #expect(try await w.alice.call(.DELETE, "/v1/api-keys/\(id)").status == 204)
            #expect(try await holder.call(.GET, "/v1/models").status == 401, "a revoked key stops at once")
        }
    }

    /// The MCP endpoint (with each user's API key): a tool is the caller's own agent or one shared
    /// with them; nobody can call another's agent or continue another's conversation.
    @Test func mcpToolsAndConversationsAreTheCallersOnly() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            func keyHolder(_ user: APITestClient) async throws -> APITestClient {
                let key = try #require(try await user.call(.POST, "/v1/api-keys", ["name": "mcp"]).json["key"] as? String)
                return APITestClient(transport: base, token: key, name: "\(user.name)'s key")
            }
            func rpc(_ client: APITestClient, _ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
                let reply = try await client.call(.POST, "/mcp", ["jsonrpc": "2.0", "id": 1, "method": method, "params": params])
                #expect(reply.status == 200, "\(client.name) \(method): \(reply.status)")
                return reply.json["result"] as? [String: Any] ?? [:]
            }
            func tools(_ client: APITestClient) async throws -> [[String: Any]] {
                try await rpc(client, "tools/list")["tools"] as? [[String: Any]] ?? []
            }
            let bob = try await keyHolder(w.bob)
            let carol = try await keyHolder(w.carol)
            let mallory = try await keyHolder(w.mallory)
            let shared = try #require(try await tools(bob).first { $0["title"] as? String == "Echo" }?["name"] as? String)
            #expect(try await tools(carol).contains { $0["name"] as? String == shared })
            #expect(try await !tools(mallory).contains { $0["name"] as? String == shared }, "a stranger does not see the agent")
            let mallorysOwn = try #require(try await tools(mallory).first?["name"] as? String)
            #expect(mallorysOwn != shared, "same agent name, another agent, another tool")

            let strangerCall = try await rpc(mallory, "tools/call", ["name": shared, "arguments": ["message": "hi"]])
            #expect(strangerCall["isError"] as? Bool == true, "a stranger cannot call the agent")
            let otherConversation = try await rpc(
                carol, "tools/call", ["name": shared, "arguments": ["message": "hi", "conversation_id": w.bobSession]])
            #expect(otherConversation["isError"] as? Bool == true, "a guest cannot continue another guest's conversation")
            let hijack = try await rpc(
                mallory, "tools/call", ["name": mallorysOwn, "arguments": ["message": "hi", "conversation_id": w.bobSession]])
            #expect(hijack["isError"] as? Bool == true, "nor can a stranger, through an agent of their own")
            let history = try await w.bob.call(.GET, "/v1/sessions/\(w.bobSession)/messages").json["messages"] as? [[String: Any]]
            #expect(history?.isEmpty == true, "nothing reached Bob's conversation")

            #expect(try await w.alice.call(.DELETE, "/v1/shares/\(w.shareID)").status == 200)
            #expect(try await !tools(bob).contains { $0["name"] as? String == shared }, "revoked: the tool is gone")
        }
    }

    @Test func aDeviceCannotAnswerInASessionOfAnAgentItDoesNotHost() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            let reply = try await w.mallory.call(
                .POST, "/v1/devices/\(w.malloryDevice)/sessions/\(w.bobSession)/replies", ["kind": "done", "text": "spoofed"])
            #expect(reply.status == 404)
            let history = try await w.bob.call(.GET, "/v1/sessions/\(w.bobSession)/messages").json["messages"] as? [[String: Any]]
            #expect(history?.isEmpty == true)
        }
    }

    @Test func aRevokedGuestIsRefusedEverywhere() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            #expect(try await w.alice.call(.DELETE, "/v1/shares/\(w.shareID)").status == 200)
            for (method, path, body) in [
                ("GET", "/v1/sessions/\(w.bobSession)", nil), ("GET", "/v1/sessions/\(w.bobSession)/messages", nil),
                ("POST", "/v1/sessions/\(w.bobSession)/messages", ["text": "hi"]), ("GET", "/v1/sessions/\(w.bobSession)/events", nil),
                ("DELETE", "/v1/sessions/\(w.bobSession)", nil),
                ("POST", "/v1/sessions/\(w.bobSession)/messages/\(UUID().uuidString)/stop", nil),
            ] as [(String, String, [String: Any]?)] {
                let reply = try await w.bob.call(.init(rawValue: method), path, body)
                #expect(reply.status == 403, "\(method) \(path) gave \(reply.status)")
                #expect(reply.problemType == "urn:agent-gateway:problem:share-revoked")
            }
            #expect(try await w.bob.call(.GET, "/v1/agents/\(w.agentID)").status == 404)
            #expect(try await w.bob.call(.POST, "/v1/sessions", ["agent_id": w.agentID]).status == 404)
            #expect(try await w.bob.call(.GET, "/v1/agents").array.isEmpty)
            let accept = try await w.bob.call(.POST, "/v1/invites/\(w.code)/accept")
            #expect(accept.status == 410)
            #expect(accept.problemType == "urn:agent-gateway:problem:invite-revoked")
        }
    }

    @Test func invitesThatExpiredOrAreUsedUpAreRefusedClearly() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            let limited = try await w.alice.call(.POST, "/v1/agents/\(w.agentID)/shares", ["max_uses": 1])
            let code = try #require(limited.json["code"] as? String)
            #expect(try await w.bob.call(.POST, "/v1/invites/\(code)/accept").status == 201)
            let exhausted = try await w.carol.call(.POST, "/v1/invites/\(code)/accept")
            #expect(exhausted.status == 410)
            #expect(exhausted.problemType == "urn:agent-gateway:problem:invite-exhausted")
            #expect(try await w.bob.call(.POST, "/v1/invites/\(code)/accept").status == 200, "accepting again is harmless")
            let unknown = try await w.carol.call(.POST, "/v1/invites/not-a-real-code/accept")
            #expect(unknown.status == 404)
            let tooShort = try await w.alice.call(.POST, "/v1/agents/\(w.agentID)/shares", ["expires_in": 5])
            #expect(tooShort.status == 400)
        }
    }

    @Test func messageLimitsAnswer413And400() async throws {
        try await withGateway { client in
            let base = client.transport
            let w = try await makeWorld(base)
            let huge = String(repeating: "x", count: 64 * 1024 + 1)
            let tooLarge = try await w.bob.call(.POST, "/v1/sessions/\(w.bobSession)/messages", ["text": huge])
            #expect(tooLarge.status == 413)
            #expect(try await w.bob.call(.POST, "/v1/sessions/\(w.bobSession)/messages", ["text": ""]).status == 400)
            let withNUL = try await w.bob.call(.POST, "/v1/sessions/\(w.bobSession)/messages", ["text": "a\u{0}b"])
            #expect(withNUL.status == 400)
            #expect(try await w.alice.call(.PUT, "/v1/devices/x%00y", ["name": "n"]).status == 400)
            let malformed = try await w.bob.call(.POST, "/v1/sessions", ["agent": 1])
            #expect(malformed.status == 400)
            #expect(malformed.problemType == "urn:agent-gateway:problem:invalid-request")
        }
    }
}
