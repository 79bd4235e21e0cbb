import Foundation
import ServerSentEvents

#if canImport(Glibc)
import Glibc
#endif

/// An EventSource-like client for tests over a plain socket: it connects with an optional
/// resume position, collects parsed items on a reader thread, and `close()` really closes the
/// TCP connection at once, as a browser tab or a killed desktop app would.
final class SSETestConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [ServerSentEventParser.Item] = []
    private var bodyBytes: [UInt8] = []
    private var finished = false
    private(set) var status: Int = 0
    private let descriptor: Int32
    private var reader: Thread?

    struct ConnectFailed: Error { let detail: String }

    /// Opens `url` (http://127.0.0.1:PORT/path); `lastEventID` goes in the `Last-Event-ID`
    /// header unless `viaQuery`.
    static func open(_ url: String, lastEventID: String? = nil, viaQuery: Bool = false, headers: [(String, String)] = []) async throws
        -> SSETestConnection
    {
        guard let components = URLComponents(string: url), let port = components.port else { throw ConnectFailed(detail: url) }
        var target = components.percentEncodedPath + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
        var headerLines = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
        if let lastEventID {
            if viaQuery {
                target += (target.contains("?") ? "&" : "?") + "last_event_id=" + lastEventID
            } else {
                headerLines += "Last-Event-ID: \(lastEventID)\r\n"
            }
        }
        let connection = try SSETestConnection(port: port)
        let request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n\(headerLines)\r\n"
        _ = request.withCString { send(connection.descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        connection.startReading()
        // Like EventSource's `open`: wait until the response head arrived.
        let deadline = ContinuousClock.now + .seconds(10)
        while connection.status == 0 && !connection.isFinished && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        return connection
    }

    private init(port: Int) throws {
        descriptor = try connectLoopback(port: port)
    }

    private func startReading() {
        let thread = Thread { [self] in readLoop() }
        reader = thread
        thread.start()
    }

    /// Reads the response head, then de-chunks the body and feeds the SSE parser.
    private func readLoop() {
        var pending: [UInt8] = []
        var headerDone = false
        var chunked = false
        var parser = ServerSentEventParser()
        var buffer = [UInt8](repeating: 0, count: 65536)
        defer { lock.withLock { finished = true } }
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return }
            pending += buffer[0..<count]
            if !headerDone {
                guard let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) else { continue }
                let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                let statusCode = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                chunked = head.lowercased().contains("transfer-encoding: chunked")
                lock.withLock { status = statusCode }
                pending.removeSubrange(..<end.upperBound)
                headerDone = true
            }
            var body: [UInt8] = []
            var ended = false
            if chunked {
                while let lineEnd = pending.firstRange(of: Array("\r\n".utf8)) {
                    let sizeText = String(decoding: pending[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                    guard let size = Int(sizeText, radix: 16), size > 0 else {
                        // The last chunk: what came before it in this read still counts.
                        ended = true
                        break
                    }
                    guard pending.count >= lineEnd.upperBound + size + 2 else { break }
                    body += pending[lineEnd.upperBound..<(lineEnd.upperBound + size)]
                    pending.removeSubrange(..<(lineEnd.upperBound + size + 2))
                }
            } else {
                body = pending
                pending = []
            }
            lock.withLock { bodyBytes += body }
            guard let items = try? parser.feed(body) else { return }
            lock.withLock { collected += items }
            if ended { return }
        }
    }

    var items: [ServerSentEventParser.Item] { lock.withLock { collected } }
    var events: [ServerSentEvent] { items.compactMap(\.event) }
    var isFinished: Bool { lock.withLock { finished } }
    /// The response body as received so far (for refusals, which are problem JSON).
    var body: String { lock.withLock { String(decoding: bodyBytes, as: UTF8.self) } }

    /// Events of the given type.
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

    /// Drops the connection at once, as a client going away would.
    func close() async {
        shutdown(descriptor, Int32(SHUT_RDWR))
        while !isFinished { try? await Task.sleep(for: .milliseconds(5)) }
        Glibc.close(descriptor)
    }

    deinit {
        if !isFinished { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }
}

/// A blocking TCP socket connected to 127.0.0.1:`port`.
func connectLoopback(port: Int) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        Glibc.close(descriptor)
        throw SSETestConnection.ConnectFailed(detail: "connect to port \(port) failed")
    }
    return descriptor
}
