import Hummingbird
import Logging

extension Request {
    /// Answers with `respond`, cancelled when the client closes its side of the connection: for
    /// handlers that may wait long for someone else (a tool call or completion waiting for an
    /// agent's reply, a sign-in waiting for a client's metadata document). Without it, a client
    /// that left would keep its stream lease, its session and a fetch until their limits.
    ///
    /// Watching for the close takes over the connection's inbound side: `respond` gets the
    /// request with its body re-routed (read the body from that request only, never from this
    /// one beforehand), and the connection ends with this response, which says
    /// `Connection: close`; `failure` turns an error of `respond` into a response first, so
    /// that it says so too. A request that did not come over a connection (the in-memory
    /// router tests) is answered as is.
    func respondUnlessClientLeaves(
        context: some ConnectionRequestContext, _ respond: (Request) async throws -> Response, failure: (any Error) throws -> Response
    ) async throws -> Response {
        func answer(_ request: Request) async throws -> Response {
            do {
                return try await respond(request)
            } catch {
                return try failure(error)
            }
        }
        guard context.remoteAddress != nil else { return try await answer(self) }
        var response: Response
        do {
            response = try await body.consumeWithCancellationOnInboundClose { body in
                var request = self
                request.body = body
                return try await answer(request)
            }
        } catch is CancellationError {
            // The client left: nobody reads this answer. Not a server error (nginx's 499).
            context.logger.debug("client left before the answer", metadata: ["event": "http.client_left"])
            response = Response(status: .init(code: 499, reasonPhrase: "Client Closed Request"))
        }
        response.headers[.connection] = "close"
        return response
    }
}

/// A long streamed response's updates with a heartbeat between them: while the agent is silent
/// (its host offline, or thinking) the response writes an SSE comment every `interval`, and a
/// client that left is noticed when that write fails (nothing else is read from or written to
/// its connection meanwhile).
enum Paced<Element: Sendable>: Sendable {
    case element(Element)
    case heartbeat

    /// The longest a streamed response stays silent.
    static func interval(_ configured: Duration) -> Duration { min(configured, .seconds(5)) }

    static func updates(_ source: AsyncThrowingStream<Element, any Error>, every interval: Duration) -> AsyncThrowingStream<
        Paced<Element>, any Error
    > {
        let (paced, continuation) = AsyncThrowingStream.makeStream(of: Paced<Element>.self)
        let reader = Task {
            do {
                for try await element in source { continuation.yield(.element(element)) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        let ticker = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                continuation.yield(.heartbeat)
            }
        }
        // The consumer leaving (its client gone) stops reading the source, which ends the reply's
        // work upstream (the relay tells the host to stop).
        continuation.onTermination = { _ in
            reader.cancel()
            ticker.cancel()
        }
        return paced
    }
}
