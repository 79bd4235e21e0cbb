import NIOCore
import NIOHTTP1
import NIOPosix

/// A whole HTTP response.
struct HTTPReply: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: ByteBuffer
}

/// One keep-alive HTTP/1.1 connection, one request at a time (used for appends, /readyz and
/// /metrics). Lives for the duration of `withHTTPConnection`'s body.
struct HTTPSession: ~Copyable {
    var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    let host: String

    /// Sends a request and reads the whole response. `headers` are added to Host (and to
    /// Content-Type and Content-Length when there is a body).
    mutating func request(
        _ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil, contentType: String = "application/json",
        headers extraHeaders: [(String, String)] = []
    ) async throws -> HTTPReply {
        var headers = HTTPHeaders([("Host", host)])
        if let body {
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        headers.add(contentsOf: extraHeaders)
        var parts: [HTTPClientRequestPart] = [.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers))]
        if let body { parts.append(.body(.byteBuffer(body))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
        var status = 0
        var responseHeaders = HTTPHeaders()
        var collected = ByteBuffer()
        while let part = try await inbound.next() {
            switch part {
            case .head(let head):
                status = Int(head.status.code)
                responseHeaders = head.headers
            case .body(var chunk):
                collected.writeBuffer(&chunk)
            case .end:
                return HTTPReply(status: status, headers: responseHeaders, body: collected)
            }
        }
        throw BenchError("connection closed before the response to \(method) \(path) ended")
    }
}

func withHTTPConnection<Result: Sendable>(
    group: any EventLoopGroup, port: Int, _ body: (inout HTTPSession) async throws -> Result
) async throws -> Result {
    let channel = try await ClientBootstrap(group: group)
        .connectTimeout(.seconds(10))
        .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var session = HTTPSession(inbound: inbound.makeAsyncIterator(), outbound: outbound, host: "127.0.0.1:\(port)")
        return try await body(&session)
    }
}

/// One request on a fresh connection.
func httpRequest(group: any EventLoopGroup, port: Int, _ method: HTTPMethod, _ path: String) async throws -> (status: Int, body: String) {
    try await withHTTPConnection(group: group, port: port) { session in
        let response = try await session.request(method, path)
        return (response.status, String(buffer: response.body))
    }
}

/// A sample of the gateway's Prometheus exposition: the value of `name` (with `labels`, e.g.
/// `reason="slow_client"`), 0 when absent.
func metricValue(_ exposition: String, _ name: String, labels: String? = nil) -> Double {
    let key = labels.map { "\(name){\($0)}" } ?? name
    for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
        let fields = line.split(separator: " ")
        guard fields.count >= 2 else { continue }
        if fields[0] == key { return Double(fields[1]) ?? 0 }
    }
    return 0
}
