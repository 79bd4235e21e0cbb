import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The full relay path through the public API: two people sign in with the demo sign-in
/// form (the authorization-code flow with PKCE, as `gatewayctl login` does), the host
/// registers a device and publishes an agent, shares it, the guest accepts the invite and
/// opens a session, subscribes to the session's events, and the host's device posts reply
/// deltas that the guest's stream receives.
extension RunCommand {
    func measureRelay(_ gateway: BenchTarget, group: any EventLoopGroup) async throws -> PacedResult {
        let port = gateway.port
        let host = try await demoSignIn(port: port, displayName: "Bench host", group: group)
        let guest = try await demoSignIn(port: port, displayName: "Bench guest", group: group)
        let deviceID = "bench-device"
        _ = try await api(
            .PUT, "/v1/devices/\(deviceID)", token: host, body: ["name": "Bench device", "platform": "linux"], port: port, group: group)
        let agent = try await api(
            .PUT, "/v1/devices/\(deviceID)/agents/bench-agent", token: host, body: ["name": "Bench agent"], port: port, group: group)
        guard let agentID = agent["id"] as? String else { throw BenchError("publishing the agent returned no id: \(agent)") }
        let share = try await api(.POST, "/v1/agents/\(agentID)/shares", token: host, body: ["label": "bench"], port: port, group: group)
        guard let code = share["code"] as? String else { throw BenchError("creating the share returned no code: \(share)") }
        _ = try await api(.POST, "/v1/invites/\(code)/accept", token: guest, body: nil, port: port, group: group)
        let session = try await api(.POST, "/v1/sessions", token: guest, body: ["agent_id": agentID], port: port, group: group)
        guard let sessionID = session["id"] as? String else { throw BenchError("opening the session returned no id: \(session)") }

        let ledger = DeliveryLedger()
        let subscribers = try await openSubscribers(
            count: 1, concurrency: 1, group: group, port: port, ledger: ledger, format: .replyDelta,
            headers: [("Authorization", "Bearer \(guest)")]
        ) { _ in "/v1/sessions/\(sessionID)/events" }
        let publisher = Publisher(port: port, headers: [("Authorization", "Bearer \(host)")]) { index, number, sent in
            (
                "/v1/devices/\(deviceID)/sessions/\(sessionID)/replies",
                ByteBuffer(string: #"{"kind":"delta","reply_to":"bench-reply","index":\#(index),"text":"bench n=\#(number) t=\#(sent)"}"#)
            )
        }
        do {
            try await warmUp(count: 20, fanout: 1, publisher: publisher, ledger: ledger, group: group)
            let numbers = (0..<Int64(pacedCount)).map { 100_001 + $0 }
            let result = try await pacedRun(
                target: gateway, count: pacedCount, rate: rate, fanout: 1, subscribers: subscribers, publisher: publisher,
                expected: { _ in numbers }, ledger: ledger, group: group)
            await closeAll(subscribers)
            return result
        } catch {
            await closeAll(subscribers)
            throw error
        }
    }

    /// A JSON API call with a bearer token; the decoded object of a 2xx answer.
    func api(
        _ method: HTTPMethod, _ path: String, token: String, body: [String: String]?, port: Int, group: any EventLoopGroup
    ) async throws -> [String: Any] {
        let payload = try body.map { ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: $0)) }
        let reply = try await withHTTPConnection(group: group, port: port) { session in
            try await session.request(method, path, body: payload, headers: [("Authorization", "Bearer \(token)")])
        }
        guard (200..<300).contains(reply.status) else {
            throw BenchError("\(method) \(path) answered HTTP \(reply.status): \(String(buffer: reply.body).prefix(300))")
        }
        guard reply.body.readableBytes > 0 else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(reply.body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    /// Signs a new person in with the demo sign-in form, as a browser and a desktop client
    /// would (client `desktop`, a loopback redirect that is read, not followed); returns the
    /// access token.
    func demoSignIn(port: Int, displayName: String, group: any EventLoopGroup) async throws -> String {
        let verifier = Self.base64URL(Data((0..<32).map { _ in UInt8.random(in: 0...255) }))
        let challenge = Self.base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
        let redirect = "http://127.0.0.1:\(port + 1)/callback"
        let query = Self.form([
            ("response_type", "code"), ("client_id", "desktop"), ("redirect_uri", redirect), ("state", "bench"),
            ("code_challenge", challenge), ("code_challenge_method", "S256"), ("scope", "gateway"),
        ])
        return try await withHTTPConnection(group: group, port: port) { session in
            var cookies: [(String, String)] = []
            func remember(_ headers: HTTPHeaders) {
                for header in headers["Set-Cookie"] {
                    let pair = (header.split(separator: ";").first ?? "").split(separator: "=", maxSplits: 1).map(String.init)
                    guard pair.count == 2 else { continue }
                    cookies.removeAll { $0.0 == pair[0] }
                    cookies.append((pair[0], pair[1]))
                }
            }
            func cookieHeader() -> [(String, String)] {
                cookies.isEmpty ? [] : [("Cookie", cookies.map { "\($0.0)=\($0.1)" }.joined(separator: "; "))]
            }
            let page = try await session.request(.GET, "/oauth/authorize?\(query)")
            guard page.status == 200 else { throw BenchError("the sign-in page answered HTTP \(page.status)") }
            remember(page.headers)
            let html = String(buffer: page.body)
            let regex = try NSRegularExpression(pattern: #"<input type="hidden" name="([^"]+)" value="([^"]*)">"#)
            var fields: [(String, String)] = []
            for match in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
                fields.append((String(html[Range(match.range(at: 1), in: html)!]), String(html[Range(match.range(at: 2), in: html)!])))
            }
            fields += [("display_name", displayName), ("action", "allow")]
            let submitted = try await session.request(
                .POST, "/oauth/authorize", body: ByteBuffer(string: Self.form(fields)), contentType: "application/x-www-form-urlencoded",
                headers: cookieHeader())
            guard let location = submitted.headers.first(name: "Location"),
                let code = URLComponents(string: location)?.queryItems?.first(where: { $0.name == "code" })?.value
            else {
                throw BenchError(
                    "demo sign-in gave no authorization code (HTTP \(submitted.status): \(String(buffer: submitted.body).prefix(300)))")
            }
            let token = try await session.request(
                .POST, "/oauth/token",
                body: ByteBuffer(
                    string: Self.form([
                        ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("client_id", "desktop"),
                        ("code_verifier", verifier),
                    ])), contentType: "application/x-www-form-urlencoded")
            let json = (try? JSONSerialization.jsonObject(with: Data(token.body.readableBytesView)) as? [String: Any]) ?? [:]
            guard token.status == 200, let accessToken = json["access_token"] as? String else {
                throw BenchError("the token request answered HTTP \(token.status): \(String(buffer: token.body).prefix(300))")
            }
            return accessToken
        }
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// application/x-www-form-urlencoded (also used for the query string).
    static func form(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map {
            "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)"
        }
        .joined(separator: "&")
    }
}
