import Hummingbird

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
        context: GatewayRequestContext, _ respond: (Request) async throws -> Response, failure: (any Error) throws -> Response
    ) async throws -> Response {
        func answer(_ request: Request) async throws -> Response {
            do {
                return try await respond(request)
            } catch {
                return try failure(error)
            }
        }
        guard context.remoteAddress != nil else { return try await answer(self) }
        var response = try await body.consumeWithCancellationOnInboundClose { body in
            var request = self
            request.body = body
            return try await answer(request)
        }
        response.headers[.connection] = "close"
        return response
    }
}
