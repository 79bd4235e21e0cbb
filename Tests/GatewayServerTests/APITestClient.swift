import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A signed-in user of the `/v1` API: JSON in and out with a bearer token.
struct APITestClient: Sendable {
    var base: String
    let token: String
    let name: String

    struct Reply: Sendable {
        let status: Int
        let body: String
        let headers: HTTPHeaders

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
        var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]) ?? [] }
        var problemType: String? { json["type"] as? String }
    }

    /// Signs `name` in through the real OAuth flow against `base`.
    static func signIn(_ name: String, at base: String) async throws -> APITestClient {
        let tokens = try await OAuthTestClient(base: base).signInForTokens(displayName: name)
        guard let token = tokens["access_token"] as? String else { throw SignInFailed(detail: "\(tokens)") }
        return APITestClient(base: base, token: token, name: name)
    }

    struct SignInFailed: Error { let detail: String }

    func on(_ base: String) -> APITestClient { APITestClient(base: base, token: token, name: name) }

    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        return Reply(
            status: Int(response.status.code), body: String(buffer: try await response.body.collect(upTo: 4 << 20)),
            headers: response.headers)
    }

    /// Opens one of the caller's event streams.
    func stream(_ path: String, lastEventID: String? = nil) async throws -> SSETestConnection {
        try await SSETestConnection.open(base + path, lastEventID: lastEventID, headers: [("Authorization", "Bearer \(token)")])
    }
}

extension SSETestConnection {
    /// Decoded `data` of the events of one type.
    func payloads(_ type: String) -> [[String: Any]] {
        events(ofType: type).compactMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
    }

    var lastEventID: String? { events.last(where: { $0.id != nil })?.id }
}
