import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A signed-in user of the `/v1` API: JSON in and out with a bearer token.
struct APITestClient: Sendable {
    let transport: GatewayTransport
    let token: String
    let name: String

    init(transport: GatewayTransport, token: String, name: String) {
        self.transport = transport
        self.token = token
        self.name = name
    }

    /// A user of the live gateway at `base`.
    init(base: String, token: String, name: String) {
        self.init(transport: .live(base), token: token, name: name)
    }

    var base: String { transport.base }

    struct Reply: Sendable {
        let status: Int
        let body: String
        let headers: HTTPHeaders

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
        var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]) ?? [] }
        var problemType: String? { json["type"] as? String }
    }

    /// Signs `name` in through the real OAuth flow against the live gateway at `base`.
    static func signIn(_ name: String, at base: String) async throws -> APITestClient {
        try await signIn(name, via: .live(base))
    }

    /// Signs `name` in through the real OAuth flow, in a browser of its own.
    static func signIn(_ name: String, via transport: GatewayTransport) async throws -> APITestClient {
        let tokens = try await OAuthTestClient(transport: transport).signInForTokens(displayName: name)
        guard let token = tokens["access_token"] as? String else { throw SignInFailed(detail: "\(tokens)") }
        return APITestClient(transport: transport, token: token, name: name)
    }

    struct SignInFailed: Error { let detail: String }

    func on(_ base: String) -> APITestClient { APITestClient(base: base, token: token, name: name) }

    /// The same user with another credential (an API key, another token).
    func with(token: String, name: String) -> APITestClient { APITestClient(transport: transport, token: token, name: name) }

    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var requestHeaders = HTTPHeaders()
        requestHeaders.add(name: "Authorization", value: "Bearer \(token)")
        for (name, value) in headers { requestHeaders.add(name: name, value: value) }
        var data: ByteBuffer?
        if let body {
            requestHeaders.add(name: "Content-Type", value: "application/json")
            data = ByteBuffer(data: try JSONSerialization.data(withJSONObject: body))
        }
        let response = try await transport.request(method, path, headers: requestHeaders, body: data)
        return Reply(status: response.status, body: response.body, headers: response.headers)
    }

    /// Opens one of the caller's event streams.
    func stream(_ path: String, lastEventID: String? = nil) async throws -> SSETestConnection {
        precondition(transport.isLive, "event streams need a live gateway")
        return try await SSETestConnection.open(base + path, lastEventID: lastEventID, headers: [("Authorization", "Bearer \(token)")])
    }
}

extension SSETestConnection {
    /// Decoded `data` of the events of one type.
    func payloads(_ type: String) -> [[String: Any]] {
        events(ofType: type).compactMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
    }

    var lastEventID: String? { events.last(where: { $0.id != nil })?.id }
}
