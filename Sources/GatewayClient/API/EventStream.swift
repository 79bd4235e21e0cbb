import AsyncHTTPClient
import Foundation
import GatewayProtocol
import NIOConcurrencyHelpers
import NIOCore
import ServerSentEvents

/// A gateway event stream (docs/streams.md) that survives network loss and gateway restarts:
/// it reconnects with backoff and resumes after the last event id it delivered
/// (`Last-Event-ID`), so nothing is missed or repeated.
public struct EventStream: Sendable {
    public enum Update: Sendable {
        /// The stream is open (the first time and after every reconnection).
        case connected
        /// An event; its `id` is the position to resume after.
        case event(ServerSentEvent)
        /// The connection was lost; the next attempt comes after `retryIn`.
        case interrupted(reason: String, retryIn: Duration)
    }

    public let api: GatewayAPI
    public let path: String
    public let startAfter: String?
    /// No bytes (not even the 15-second heartbeat) for this long means the connection is dead.
    public var idleTimeout: Duration = .seconds(45)
    public var maximumBackoff: Duration = .seconds(30)

    public init(api: GatewayAPI, path: String, startAfter: String?) {
        self.api = api
        self.path = path
        self.startAfter = startAfter
    }

    /// The updates, until the consumer stops iterating (which closes the connection) or a
    /// terminal error: signed out, or a 4xx problem such as 403 `share-revoked`.
    public func updates() -> AsyncThrowingStream<Update, any Error> {
        let (stream, continuation) = AsyncThrowingStream<Update, any Error>.makeStream()
        let task = Task {
            do {
                try await run(continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func run(_ continuation: AsyncThrowingStream<Update, any Error>.Continuation) async throws {
        var lastEventID = startAfter
        var failures = 0
        var retryHint: Duration = .seconds(1)
        while !Task.isCancelled {
            var reason: String
            do {
                let response = try await api.openStream(path, lastEventID: lastEventID)
                if response.status == .ok {
                    failures = 0
                    continuation.yield(.connected)
                    reason = "the stream ended"
                    try await read(response.body, lastEventID: &lastEventID, retryHint: &retryHint, continuation)
                } else {
                    let body = try? await response.body.collect(upTo: 64 * 1024)
                    let problem = HTTPTransport.Response(
                        status: Int(response.status.code), headers: response.headers,
                        body: body.map { Data($0.readableBytesView) } ?? Data()
                    ).problem
                    if (400..<500).contains(problem.status) && problem.status != 408 && problem.status != 429 {
                        throw GatewayClientError.problem(problem)
                    }
                    reason = "HTTP \(problem.status)"
                    failures += 1
                }
            } catch let error as GatewayClientError {
                if case .unreachable(_, let why) = error {
                    reason = why
                    failures += 1
                } else {
                    throw error
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                reason = error is IdleTimeout ? "no heartbeat for \(idleTimeout)" : "connection lost"
                failures += 1
            }
            // A stream the gateway ended cleanly (its lifetime) is picked up again at once: a
            // device keeps its online grace only until it is back, so the shorter the gap, the
            // sooner a host that dies is seen offline. The `retry:` hint caps the wait.
            let delay =
                failures == 0
                ? min(retryHint, .milliseconds(Int.random(in: 20...200))) : Self.backoff(failures, maximum: maximumBackoff)
            continuation.yield(.interrupted(reason: reason, retryIn: delay))
            try await Task.sleep(for: delay)
        }
    }

    /// Exponential backoff with jitter: about 1, 2, 4, 8 … seconds, at most `maximum`.
    static func backoff(_ failures: Int, maximum: Duration) -> Duration {
        let base = min(Double(1 << min(max(failures, 1) - 1, 10)), maximum / .seconds(1))
        return .milliseconds(Int(base * 1000 * Double.random(in: 0.8...1.2)))
    }

    private struct IdleTimeout: Error {}

    private func read(
        _ body: HTTPClientResponse.Body, lastEventID: inout String?, retryHint: inout Duration,
        _ continuation: AsyncThrowingStream<Update, any Error>.Continuation
    ) async throws {
        let lastActivity = NIOLockedValueBox(ContinuousClock.now)
        let retryMilliseconds = NIOLockedValueBox<Int?>(nil)
        let idleTimeout = self.idleTimeout
        let (items, itemsContinuation) = AsyncThrowingStream<ServerSentEventParser.Item, any Error>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    var parser = ServerSentEventParser()
                    for try await chunk in body {
                        lastActivity.withLockedValue { $0 = .now }
                        for item in try parser.feed(chunk) { itemsContinuation.yield(item) }
                        if let retry = parser.retry { retryMilliseconds.withLockedValue { $0 = retry } }
                    }
                    itemsContinuation.finish()
                } catch {
                    itemsContinuation.finish(throwing: error)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(1))
                    if ContinuousClock.now - lastActivity.withLockedValue({ $0 }) > idleTimeout {
                        itemsContinuation.finish(throwing: IdleTimeout())
                        return
                    }
                }
            }
            defer { group.cancelAll() }
            for try await item in items {
                guard case .event(let event) = item else { continue }
                if let retry = retryMilliseconds.withLockedValue({ $0 }) { retryHint = .milliseconds(min(max(retry, 100), 60_000)) }
                if let id = event.id, !id.isEmpty { lastEventID = id }
                continuation.yield(.event(event))
            }
        }
    }
}

extension ServerSentEvent {
    /// The event as the protocol's typed value (`.unknown` for types this version does not know).
    public var gatewayEvent: GatewayEvent { GatewayEvent(type: event ?? "message", data: data) }
}
