import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The RFC 8252 loopback redirect: a one-shot HTTP server on `127.0.0.1` and a free port that
/// waits for the browser to come back from the sign-in page with `code` (or `error`) and `state`.
public enum LoopbackRedirectReceiver {
    public static let callbackPath = "/callback"

    /// Binds, calls `onListening` with the redirect URI, and returns the callback's query items.
    public static func receive(
        timeout: Duration = .seconds(600), onListening: @Sendable (String) async throws -> Void
    ) async throws -> [String: String] {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        guard let port = server.channel.localAddress?.port else {
            throw GatewayClientError.invalidResponse("the loopback listener has no port")
        }
        try await onListening("http://127.0.0.1:\(port)\(callbackPath)")
        return try await withThrowingTaskGroup(of: [String: String]?.self) { group in
            group.addTask {
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        if let result = try? await handle(connection) { return result }
                    }
                    return nil
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw GatewayClientError.oauth(error: "timeout", description: "nobody completed the sign-in in the browser in time")
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw GatewayClientError.oauth(error: "timeout", description: "the loopback listener closed")
        }
    }

    /// Answers one connection; returns the query of a request to the callback path.
    private static func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws
        -> [String: String]?
    {
        try await connection.executeThenClose { inbound, outbound in
            var uri: String?
            for try await part in inbound {
                switch part {
                case .head(let head): uri = head.uri
                case .body: break
                case .end:
                    let components = URLComponents(string: uri ?? "/")
                    let isCallback = components?.path == callbackPath
                    let query = Dictionary(
                        (components?.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
                    let signedIn = query["code"] != nil
                    let page =
                        isCallback
                        ? (signedIn
                            ? "<!doctype html><title>gatewayctl</title><h1>Signed in</h1><p>You can close this tab and return to the terminal.</p>"
                            : "<!doctype html><title>gatewayctl</title><h1>Sign-in did not complete</h1><p>Return to the terminal.</p>")
                        : "<!doctype html><title>Not found</title>"
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
                    headers.add(name: "Content-Length", value: String(page.utf8.count))
                    headers.add(name: "Connection", value: "close")
                    headers.add(name: "Cache-Control", value: "no-store")
                    headers.add(name: "Referrer-Policy", value: "no-referrer")
                    let head = HTTPResponseHead(version: .http1_1, status: isCallback ? .ok : .notFound, headers: headers)
                    // The page is a courtesy: a browser that has read it (the length is known) may
                    // close the connection before the last write completes, which must not cost the
                    // sign-in its callback.
                    try? await outbound.write(
                        contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(string: page))), .end(nil)])
                    return isCallback ? query : nil
                }
            }
            return nil
        }
    }
}
