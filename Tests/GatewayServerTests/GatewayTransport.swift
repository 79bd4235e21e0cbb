import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1

/// How a test client reaches the gateway under test: Hummingbird's router test client (requests
/// go straight to the router, no socket: the default for everything that is not a stream) or
/// real HTTP to a live server (event streams, the channel pipeline, client addresses).
struct GatewayTransport: Sendable {
    struct Reply: Sendable {
        let status: Int
        let headers: HTTPHeaders
        let body: String
    }

    /// What absolute URLs to this gateway start with: the live server's address, or the
    /// gateway's public base URL for the router (so redirects to it stay in memory).
    let base: String
    /// True for a live server: event streams need one.
    let isLive: Bool
    private let send: @Sendable (HTTPMethod, String, HTTPHeaders, ByteBuffer?) async throws -> Reply

    /// No automatic redirects: tests read every `Location`.
    static let http = HTTPClient(configuration: .init(redirectConfiguration: .disallow))

    static func live(_ base: String) -> GatewayTransport {
        GatewayTransport(base: base, isLive: true) { method, path, headers, body in
            try await fetch(method, base + path, headers: headers, body: body)
        }
    }

    static func router(_ client: some TestClientProtocol, publicBaseURL: String) -> GatewayTransport {
        GatewayTransport(base: publicBaseURL, isLive: false) { method, path, headers, body in
            var fields = HTTPFields()
            for header in headers { fields.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value)) }
            let response = try await client.executeRequest(
                uri: path, method: HTTPRequest.Method(rawValue: method.rawValue)!, headers: fields, body: body)
            var replyHeaders = HTTPHeaders()
            for field in response.headers { replyHeaders.add(name: field.name.rawName, value: field.value) }
            return Reply(status: Int(response.status.code), headers: replyHeaders, body: String(buffer: response.body))
        }
    }

    /// The transport of `client`, which `Application.test(.live)` or `.test(.router)` handed over.
    static func of(_ client: some TestClientProtocol, publicBaseURL: String) -> GatewayTransport {
        if let port = client.port { return .live("http://127.0.0.1:\(port)") }
        return .router(client, publicBaseURL: publicBaseURL)
    }

    /// A request to this gateway: `pathOrURL` is a path, or an absolute URL under `base`. Any
    /// other absolute URL (an identity provider, a metadata document) goes over real HTTP.
    func request(_ method: HTTPMethod, _ pathOrURL: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) async throws -> Reply {
        if pathOrURL.hasPrefix(base) {
            let path = String(pathOrURL.dropFirst(base.count))
            return try await send(method, path.isEmpty ? "/" : path, headers, body)
        }
        if pathOrURL.hasPrefix("http://") || pathOrURL.hasPrefix("https://") {
            return try await Self.fetch(method, pathOrURL, headers: headers, body: body)
        }
        return try await send(method, pathOrURL, headers, body)
    }

    static func fetch(_ method: HTTPMethod, _ url: String, headers: HTTPHeaders, body: ByteBuffer?) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(body) }
        let response = try await http.execute(request, timeout: .seconds(15))
        return Reply(
            status: Int(response.status.code), headers: response.headers,
            body: String(buffer: try await response.body.collect(upTo: 4 << 20)))
    }
}
