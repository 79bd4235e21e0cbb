import AsyncHTTPClient
import Foundation
import NIOCore
import ServerSentEvents

/// An EventSource-like client for tests: connects with an optional resume position and
/// collects parsed items as they arrive.
final class SSETestConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [ServerSentEventParser.Item] = []
    private var finished = false
    private var task: Task<Void, Never>?
    private(set) var status: Int = 0
    /// Its own client, so closing really closes the TCP connection (as a browser tab going away).
    private let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

    /// Opens `url`; `lastEventID` goes in the `Last-Event-ID` header unless `viaQuery`.
    static func open(_ url: String, lastEventID: String? = nil, viaQuery: Bool = false, headers: [(String, String)] = []) async throws
        -> SSETestConnection
    {
        var target = url
        var request = HTTPClientRequest(url: url)
        if let lastEventID {
            if viaQuery {
                target += (url.contains("?") ? "&" : "?") + "last_event_id=" + lastEventID
                request = HTTPClientRequest(url: target)
            } else {
                request.headers.add(name: "Last-Event-ID", value: lastEventID)
            }
        }
        request.headers.add(name: "Accept", value: "text/event-stream")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let connection = SSETestConnection()
        let response: HTTPClientResponse
        do {
            response = try await connection.client.execute(request, timeout: .seconds(30))
        } catch {
            try? await connection.client.shutdown()
            throw error
        }
        connection.status = Int(response.status.code)
        connection.task = Task {
            do {
                for try await item in response.body.serverSentEvents() {
                    connection.lock.withLock { connection.collected.append(item) }
                }
            } catch {}
            connection.lock.withLock { connection.finished = true }
        }
        return connection
    }

    var items: [ServerSentEventParser.Item] { lock.withLock { collected } }
    var events: [ServerSentEvent] { items.compactMap(\.event) }
    var isFinished: Bool { lock.withLock { finished } }

    /// Events of the given types (`nil` type is "message").
    func events(ofType type: String) -> [ServerSentEvent] { events.filter { $0.event == type } }

    /// Waits until `condition` holds on what arrived so far.
    @discardableResult
    func waitFor(timeout: Duration = .seconds(10), _ condition: (SSETestConnection) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(self)
    }

    /// Drops the connection, as a client going away would.
    func close() async {
        task?.cancel()
        try? await client.shutdown()
        _ = await task?.value
    }

    deinit {
        // Tests close connections explicitly; this only catches a forgotten one.
        let client = self.client
        Task { try? await client.shutdown() }
    }
}
