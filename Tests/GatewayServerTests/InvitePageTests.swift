import Foundation
import Testing

/// The invite page says, before anyone signs in, who invites the visitor to which agent and
/// whether the invite still works: the gateway puts the invite into the page as a JSON data
/// block, with hostile names kept inert.
@Suite("Invite page before sign-in")
struct InvitePageTests {
    static func preview(in html: String) throws -> [String: Any]? {
        guard let start = html.range(of: #"<script type="application/json" id="invite-preview">"#) else { return nil }
        let rest = html[start.upperBound...]
        let end = try #require(rest.range(of: "</script>"))
        return try JSONSerialization.jsonObject(with: Data(rest[..<end.lowerBound].utf8)) as? [String: Any]
    }

    @Test func thePageNamesWhoInvitesToWhatAndWhetherItStillWorks() async throws {
        try await withStreamingGateway(.memory) { base in
            // A name that would end the data block or the title if it were not escaped.
            let hostile = #"Olga </script><script>alert(1)</script> & "co""#
            let owner = try await APITestClient.signIn(hostile, at: base)
            try await owner.call(.PUT, "/v1/devices/laptop", ["name": "Laptop", "platform": "linux"])
            let agent = try await owner.call(
                .PUT, "/v1/devices/laptop/agents/planner", ["name": "Planner <b>", "description": "Plans releases.\nAsk it anything."])
            let agentID = try #require(agent.json["id"] as? String)
            let created = try await owner.call(.POST, "/v1/agents/\(agentID)/shares", ["max_uses": 1, "expires_in": 3600])
            let code = try #require(created.json["code"] as? String)
            let shareID = try #require((created.json["share"] as? [String: Any])?["id"] as? String)

            var page = try await httpGet("\(base)/invite/\(code)")
            #expect(page.status == 200)
            var preview = try #require(try Self.preview(in: page.body))
            #expect(preview["owner_name"] as? String == hostile)
            #expect(preview["agent_name"] as? String == "Planner <b>")
            #expect(preview["agent_description"] as? String == "Plans releases.\nAsk it anything.")
            #expect(preview["status"] as? String == "active")
            #expect(preview["expires_at"] is String)
            #expect(!page.body.contains("</script><script>alert(1)"), "a name cannot end the data block")
            #expect(page.body.contains("<title>Olga &lt;/script&gt;"), "the title is escaped text")
            #expect(page.body.contains(#"<meta property="og:title" content="Olga &lt;/script&gt;"#))

            // Used up, then revoked: said before sign-in.
            let guest = try await APITestClient.signIn("Gus", at: base)
            #expect(try await guest.call(.POST, "/v1/invites/\(code)/accept").status == 201)
            page = try await httpGet("\(base)/invite/\(code)")
            preview = try #require(try Self.preview(in: page.body))
            #expect(preview["status"] as? String == "exhausted")
            #expect(try await owner.call(.DELETE, "/v1/shares/\(shareID)").status == 200)
            page = try await httpGet("\(base)/invite/\(code)")
            #expect(try Self.preview(in: page.body)?["status"] as? String == "revoked")

            // An unknown code: the app shell, no invite.
            page = try await httpGet("\(base)/invite/\(String(repeating: "x", count: 22))")
            #expect(page.status == 200)
            #expect(try Self.preview(in: page.body) == nil)
        }
    }
}
