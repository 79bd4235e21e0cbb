import Foundation
import GatewayAuth
import GatewayEvents
import GatewayProtocol
import GatewayRelay
import Hummingbird
import Logging
import NIOCore

/// The remote MCP server at `/mcp` (Streamable HTTP, docs/clients.md): one tool per agent the
/// caller may use; a call relays its message through a session exactly as the web app does,
/// streams the reply as progress notifications and returns the final text.
///
/// Two protocol eras share the endpoint: 2026-07-28 (stateless; the client probes
/// `server/discover`, every request carries its version) and the `initialize` handshake of
/// 2025-11-25 and earlier. Nothing is kept between requests, so any replica answers any request;
/// the session id handed out at `initialize` only lets a client open the GET stream that says
/// when its tool list changed.
struct MCPRoutes: Sendable {
    static let modernVersion = "2026-07-28"
    static let handshakeVersions = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
    static let maximumBodyBytes = 1 << 20

    let relay: RelayService
    let bus: any EventBus
    let limits: CompletionLimits
    let streamLifetime: Duration
    /// SSE_HEARTBEAT_INTERVAL, as on every other stream: a heartbeat is also when a stream
    /// notices that its client left.
    let heartbeatInterval: Duration

    var tools: MCPTools { MCPTools(relay: relay) }

    /// The policy of the `/mcp` group: a personal API key, or an access token issued for the MCP
    /// resource (RFC 8707; a token for the gateway's API is refused here, as an MCP token is
    /// refused by the API) whose sign-in was not revoked. Without valid credentials the answer is
    /// 401 with `WWW-Authenticate` pointing at the protected resource metadata (RFC 9728), where
    /// an MCP client starts its OAuth flow.
    static func callerPolicy(resource: String, publicBaseURL: String) -> CallerPolicy {
        CallerPolicy(
            acceptsAPIKeys: true, audience: resource, refusesRevokedSignIns: true,
            challenge: .mcp(resourceMetadataURL: "\(publicBaseURL)/.well-known/oauth-protected-resource/mcp"))
    }

    /// Registers on the `/mcp` group, whose middleware has verified the caller (`callerPolicy`).
    func register(on group: RouterGroup<AuthenticatedContext>) {
        // A tool call may wait minutes for the agent; a client that leaves ends it (which is
        // known only once the body is read, so every POST is watched).
        group.post { request, context in
            try await request.respondUnlessClientLeaves(context: context) { request in
                try await post(request, context)
            } failure: { error in
                throw error
            }
        }
        group.get { _, context in
            try await listChangedStream(userID: context.caller.userID, credential: context.caller.credential, acknowledging: nil)
        }
        // Sessions hold nothing, so ending one is always done.
        group.delete { _, _ in Response(status: .noContent) }
    }

    // MARK: JSON-RPC

    func post(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let userID = context.caller.userID
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maximumBodyBytes)
        } catch {
            return JSONRPC.error(
                .init(.invalidRequest, "the request is larger than \(Self.maximumBodyBytes) bytes"), status: .contentTooLarge)
        }
        guard let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else {
            return JSONRPC.error(.init(.parseError, "Parse error: the body is not JSON"), status: .badRequest)
        }
        let message: JSONRPC.Message
        do {
            message = try JSONRPC.Message(parsed)
        } catch {
            return JSONRPC.error(error, status: .badRequest)
        }
        // Notifications and answers to server requests need no reply.
        guard let method = message.method, let id = message.id else {
            return Response(status: .accepted)
        }
        let params = message.params
        let headerVersion = request.headers[.init("Mcp-Protocol-Version")!]
        let version = headerVersion ?? params?["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.string
        if let version, version != Self.modernVersion, !Self.handshakeVersions.contains(version), method != "initialize" {
            let data: JSONValue = [
                "supported": .array((Self.handshakeVersions + [Self.modernVersion]).map(JSONValue.string)),
                "requested": .string(version),
            ]
            return JSONRPC.error(
                .init(.unsupportedProtocolVersion, "Unsupported protocol version", data: data, id: id), status: .badRequest)
        }
        let modern = version == Self.modernVersion
        switch method {
        case "server/discover":
            return JSONRPC.result(
                id: id,
                modernResult([
                    "supportedVersions": [.string(Self.modernVersion)],
                    "capabilities": Self.capabilities,
                    "instructions": .string(Self.instructions),
                    "ttlMs": 0, "cacheScope": "private",
                ]))
        case "initialize":
            let requested = params?["protocolVersion"]?.string ?? Self.handshakeVersions[0]
            let agreed = Self.handshakeVersions.contains(requested) ? requested : Self.handshakeVersions[0]
            var response = JSONRPC.result(
                id: id,
                [
                    "protocolVersion": .string(agreed), "capabilities": Self.capabilities, "serverInfo": Self.serverInfo,
                    "instructions": .string(Self.instructions),
                ])
            response.headers[.init("Mcp-Session-Id")!] = OpaqueToken.generate()
            return response
        case "ping":
            return JSONRPC.result(id: id, versioned([:], modern: modern))
        case "tools/list":
            let list = try await tools.list(userID: userID)
            var result: [String: JSONValue] = ["tools": .array(list)]
            if modern { result.merge(["ttlMs": 0, "cacheScope": "private"]) { $1 } }
            return JSONRPC.result(id: id, versioned(result, modern: modern))
        case "tools/call":
            return try await callTool(id: id, params: params, userID: userID, credential: context.caller.credential, modern: modern)
        case "subscriptions/listen" where modern:
            return try await listChangedStream(
                userID: userID, credential: context.caller.credential, acknowledging: (id, params?["notifications"] ?? [:]))
        default:
            return JSONRPC.error(.init(.methodNotFound, "Method not found: \(method.prefix(100))", id: id))
        }
    }

    func modernResult(_ fields: [String: JSONValue]) -> [String: JSONValue] {
        fields.merging(["resultType": "complete", "_meta": ["io.modelcontextprotocol/serverInfo": Self.serverInfo]]) { $1 }
    }

    static let capabilities: JSONValue = ["tools": ["listChanged": true]]
    static let serverInfo: JSONValue = ["name": "agent-gateway", "title": "Agent gateway", "version": .string(GatewayVersion.current)]
    static let instructions = """
        Each tool is an AI agent that a person runs on their own computer and shares with you through this gateway. \
        Calling a tool sends it a message and returns its reply; pass conversation_id to continue a conversation.
        """

    // MARK: Tool calls

    func callTool(id: JSONRPC.ID, params: JSONValue?, userID: String, credential: CallerCredential?, modern: Bool) async throws
        -> Response
    {
        let name = params?["name"]?.string ?? ""
        let arguments = params?["arguments"]?.object ?? [:]
        let progressToken = params?["_meta"]?["progressToken"]
        func toolError(_ text: String) -> Response {
            JSONRPC.result(id: id, versioned(["content": [["type": "text", "text": .string(text)]], "isError": true], modern: modern))
        }
        guard let agent = try await tools.agent(named: name, userID: userID) else {
            return toolError(
                "The agent \(name.prefix(100)) is no longer available to you (its share was revoked, or it was removed), or never was. List the tools again."
            )
        }
        guard let text = arguments["message"]?.string, !text.isEmpty else {
            return toolError("message is required: the text to send to the agent")
        }
        let conversationID = arguments["conversation_id"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        // A tool call is a long response: it counts against MAX_STREAMS_PER_USER while open.
        let lease: StreamLease
        do {
            lease = try await relay.acquireStreamLease(userID: userID)
        } catch {
            return toolError(Self.explain(error))
        }
        let session: SessionView
        let updates: AsyncThrowingStream<CompletionUpdate, any Error>
        do {
            (session, updates) = try await relay.converse(
                userID: userID, agentID: agent.id, sessionID: conversationID, text: text, limits: limits, credential: credential)
        } catch {
            await lease.release()
            return toolError(Self.explain(error))
        }
        guard let progressToken else {
            do {
                let reply = try await lease.hold {
                    var reply = ""
                    for try await update in updates { if case .done(let text) = update { reply = text } }
                    return reply
                }
                return JSONRPC.result(id: id, versioned(Self.replyResult(reply, conversationID: session.id), modern: modern))
            } catch {
                return JSONRPC.result(id: id, versioned(Self.failureResult(error, conversationID: session.id), modern: modern))
            }
        }
        // Progress notifications while the reply grows, in the POST's own event stream; a
        // comment while the agent is silent, so a client that left is noticed.
        let paced = Paced.updates(updates, every: Paced<CompletionUpdate>.interval(heartbeatInterval))
        return Response(
            status: .ok, headers: Self.eventStreamHeaders,
            body: ResponseBody { writer in
                try await lease.hold {
                    var received = 0
                    var final: [String: JSONValue]
                    do {
                        var reply = ""
                        for try await pacedUpdate in paced {
                            guard case .element(let update) = pacedUpdate else {
                                try await writer.write(ByteBuffer(string: ": waiting for the agent\n\n"))
                                continue
                            }
                            switch update {
                            case .delta(let piece):
                                let text = PersonText.withoutControlCharacters(piece)
                                received += text.count
                                try await writer.write(
                                    JSONRPC.event(
                                        JSONRPC.Notification(
                                            "notifications/progress",
                                            params: ["progressToken": progressToken, "progress": .int(received), "message": .string(text)]))
                                )
                            case .done(let text): reply = text
                            }
                        }
                        final = Self.replyResult(reply, conversationID: session.id)
                    } catch {
                        final = Self.failureResult(error, conversationID: session.id)
                    }
                    try await writer.write(
                        JSONRPC.event(JSONRPC.Response(id: id, outcome: .result(versioned(final, modern: modern)))))
                }
                try await writer.finish(nil)
            })
    }

    /// A result as the request's era wants it (2026-07-28 results say they are complete).
    func versioned(_ result: [String: JSONValue], modern: Bool) -> [String: JSONValue] {
        modern ? modernResult(result) : result
    }

    /// The reply without control characters (terminal escapes; MCP clients include terminals).
    static func replyResult(_ rawReply: String, conversationID: String) -> [String: JSONValue] {
        let reply = PersonText.withoutControlCharacters(rawReply)
        return [
            "content": [
                ["type": "text", "text": .string(reply)],
                ["type": "text", "text": .string("conversation_id: \(conversationID) (pass it to continue this conversation)")],
            ],
            "structuredContent": ["reply": .string(reply), "conversation_id": .string(conversationID)],
            "isError": false,
        ]
    }

    /// A tool error after the conversation was opened or continued. When the conversation stays
    /// usable (the host is offline or went away, the agent failed, the wait ran out) the error
    /// names it, so the caller can continue it, also when this call started it.
    static func failureResult(_ error: any Error, conversationID: String) -> [String: JSONValue] {
        var content: [JSONValue] = [["type": "text", "text": .string(explain(error))]]
        let usable: Bool
        switch error as? CompletionFailure {
        case .hostOffline?, .interrupted?, .agentFailed?, .timedOut?: usable = true
        default: usable = false
        }
        if usable {
            content.append(["type": "text", "text": .string("conversation_id: \(conversationID) (pass it to continue this conversation)")])
        }
        return ["content": .array(content), "isError": true]
    }

    /// A tool error's text: what happened and what the caller can do.
    static func explain(_ error: any Error) -> String {
        switch error {
        case let failure as CompletionFailure:
            if case .ended = failure { return "This agent is no longer available to you: \(failure.description)." }
            if case .credentialRevoked = failure { return "Your access was revoked: \(failure.description). Sign in again." }
            let sentence = failure.description.prefix(1).uppercased() + failure.description.dropFirst() + "."
            if case .hostOffline = failure {
                return sentence + " The message stays in this conversation and is answered when the host is back."
            }
            if case .interrupted = failure {
                return sentence + " It answers again in this conversation when the host is back."
            }
            return sentence
        case RelayError.shareRevoked:
            return "This agent is no longer shared with you: its owner revoked the share."
        case RelayError.sessionClosed:
            return "That conversation has ended; leave out conversation_id to start a new one."
        case RelayError.notFound:
            return "No such conversation with this agent; leave out conversation_id to start a new one."
        case RelayError.invalid(let detail):
            return detail
        case RelayError.tooLarge(let limit):
            return "The message is too long: at most \(limit) bytes."
        case RelayError.rateLimited(let limit, let seconds):
            return "Too many requests (\(limit.summary)); try again in \(seconds) seconds."
        case RelayError.tooManyStreams(let limit, let maximum):
            return "Too many calls and streams open at once (at most \(maximum) \(limit.summary)); wait for one to finish and try again."
        default:
            return "The gateway could not relay the message; try again."
        }
    }

    // MARK: Tool list changes

    /// An event stream that says `notifications/tools/list_changed` whenever the caller's agents
    /// or shares change (a share accepted or revoked, an agent published or removed). Served for
    /// the GET of the handshake era and `subscriptions/listen` of 2026-07-28 (which is first
    /// acknowledged); heartbeats keep proxies from cutting it, and it ends after the configured
    /// event-stream lifetime, like every other stream. It counts against MAX_STREAMS_PER_USER.
    func listChangedStream(
        userID: String, credential: CallerCredential?, acknowledging listen: (id: JSONRPC.ID, notifications: JSONValue)?
    ) async throws -> Response {
        let lease: StreamLease
        do {
            lease = try await relay.acquireStreamLease(userID: userID)
        } catch let error as RelayError {
            return JSONRPC.error(
                .init(.serverError, error.problem.detail ?? "too many open streams", id: listen?.id), status: .tooManyRequests)
        }
        let bus = self.bus
        let lifetime = streamLifetime
        let heartbeat = heartbeatInterval
        return Response(
            status: .ok, headers: Self.eventStreamHeaders,
            body: ResponseBody { writer in
                do {
                    try await Self.serveListChanges(
                        writer: &writer, bus: bus, userID: userID, credential: credential, lifetime: lifetime, heartbeat: heartbeat,
                        listen: listen, lease: lease)
                } catch {
                    await lease.release()
                    throw error
                }
                await lease.release()
            })
    }

    static func serveListChanges(
        writer: inout any ResponseBodyWriter, bus: any EventBus, userID: String, credential: CallerCredential?, lifetime: Duration,
        heartbeat: Duration, listen: (id: JSONRPC.ID, notifications: JSONValue)?, lease: StreamLease
    ) async throws {
        let subscription = try await bus.subscribe(RelayStreams.user(userID))
        enum Outgoing { case changed, heartbeat }
        let (outgoing, continuation) = AsyncStream.makeStream(of: Outgoing.self, bufferingPolicy: .bufferingNewest(4))
        let reader = Task {
            for await signal in subscription {
                if case .event(let event) = signal {
                    if ["host.status", "device.status"].contains(event.type) { continue }
                    if case .credentialRevoked(let revoked) = GatewayEvent(type: event.type, data: event.data) {
                        // The stream's own credential revoked: it ends here, on whichever replica.
                        if credential?.isRevoked(by: revoked) == true { break }
                        continue
                    }
                }
                continuation.yield(.changed)
            }
            continuation.finish()
        }
        let ticker = Task {
            let end = ContinuousClock.now + lifetime
            while ContinuousClock.now < end {
                try await Task.sleep(for: min(heartbeat, end - ContinuousClock.now))
                continuation.yield(.heartbeat)
            }
            continuation.finish()
        }
        defer {
            subscription.cancel()
            reader.cancel()
            ticker.cancel()
        }
        var meta: JSONValue = [:]
        if let listen {
            meta = ["io.modelcontextprotocol/subscriptionId": listen.id.json]
            try await writer.write(
                JSONRPC.event(
                    JSONRPC.Notification(
                        "notifications/subscriptions/acknowledged", params: ["_meta": meta, "notifications": listen.notifications])))
        } else {
            try await writer.write(ByteBuffer(string: ": tool list changes\n\n"))
        }
        for await item in outgoing {
            switch item {
            case .heartbeat:
                try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                await lease.renew()
            case .changed:
                let params: JSONValue? = listen == nil ? nil : ["_meta": meta]
                try await writer.write(JSONRPC.event(JSONRPC.Notification("notifications/tools/list_changed", params: params)))
            }
        }
        try await writer.finish(nil)
    }

    // MARK: Wire helpers

    static let eventStreamHeaders: HTTPFields = [
        .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache, no-transform", .init("X-Accel-Buffering")!: "no",
    ]
}

/// Requests from a browser page of another origin are refused before anything else (DNS
/// rebinding): `/mcp` is for MCP clients, and for pages of the gateway's own allowed origins.
struct MCPOriginMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let allowedOrigins: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let origin = request.headers[.origin], !allowedOrigins.contains(origin) {
            return CallerAuthenticationMiddleware.mcpRefusal(.forbidden, error: nil, "requests from \(origin.prefix(100)) are not allowed")
        }
        return try await next(request, context)
    }
}
