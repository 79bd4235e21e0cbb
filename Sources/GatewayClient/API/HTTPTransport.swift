import AsyncHTTPClient
import Foundation
import GatewayProtocol
import NIOCore
import NIOHTTP1

/// One HTTP exchange with the gateway (or a model server) over AsyncHTTPClient, with transport
/// failures turned into ``GatewayClientError/unreachable(url:reason:)``.
public enum HTTPTransport {
    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: Data

        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The RFC 9457 problem in the body, or one made from the status.
        public var problem: ProblemDetails {
            if let problem = try? WireJSON.sharedDecoder.decode(ProblemDetails.self, from: body) { return problem }
            let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
            return ProblemDetails(type: ProblemDetails.typePrefix + "http-\(status)", title: reason, status: status)
        }
    }

    static let userAgent = "gatewayctl/\(GatewayClientVersion.current)"

    /// One client for the process (never shut down). Unlike `HTTPClient.shared` it does not keep
    /// retrying a refused connection until the request's deadline: an unreachable gateway is
    /// reported at once, and event streams reconnect with their own backoff.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public static func send(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil,
        timeout: TimeAmount = .seconds(30), maximumBodySize: Int = 8 << 20
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: userAgent)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: maximumBodySize)
            return Response(status: Int(response.status.code), headers: response.headers, body: Data(bytes.readableBytesView))
        } catch let error as CancellationError {
            throw error
        } catch {
            throw unreachable(url, error)
        }
    }

    /// Starts a request and returns the response head with its body still streaming.
    package static func open(_ request: HTTPClientRequest, url: String) async throws -> HTTPClientResponse {
        var request = request
        request.headers.replaceOrAdd(name: "User-Agent", value: userAgent)
        do {
            return try await client.execute(request, deadline: .distantFuture)
        } catch let error as CancellationError {
            throw error
        } catch {
            throw unreachable(url, error)
        }
    }

    static func unreachable(_ url: String, _ error: any Error) -> GatewayClientError {
        var origin = url
        if let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host {
            origin = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)\(components.port.map { ":\($0)" } ?? "")"
        }
        return .unreachable(url: origin, reason: reason(error))
    }

    private static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") || text.contains("readTimeout") {
            return "timed out"
        }
        if text.contains("refused") || text.contains("ECONNREFUSED") { return "connection refused" }
        if text.contains("NXDOMAIN") || text.contains("lookup") || text.contains("resolve") { return "unknown host" }
        if text.contains("SSL") || text.contains("TLS") || text.contains("certificate") { return "TLS failed" }
        if text.contains("remoteConnectionClosed") || text.contains("ioOnClosedChannel") { return "connection closed" }
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }

    /// `application/x-www-form-urlencoded` body.
    public static func form(_ fields: [(String, String)]) -> Data {
        Data(fields.map { "\(formEscape($0.0))=\(formEscape($0.1))" }.joined(separator: "&").utf8)
    }

    static func formEscape(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// `url` with `parameters` as its query.
    static func url(_ base: String, query parameters: [(String, String)]) -> String {
        let separator = base.contains("?") ? "&" : "?"
        return base + separator + parameters.map { "\(formEscape($0.0))=\(formEscape($0.1))" }.joined(separator: "&")
    }
}
