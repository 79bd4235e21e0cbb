import Foundation
import GatewayAuth
import GatewayProtocol
import GatewayRelay
import Hummingbird
import Logging
import NIOCore

/// The OpenAI-compatible API (docs/clients.md): `GET /v1/models` lists the agents the caller may
/// use, `POST /v1/chat/completions` relays the last user turn to one of them (the earlier turns
/// travel as context) through a session of its own (an idle one an earlier completion left, or a
/// new one), streamed or not. Callers authenticate with a
/// personal API key or an access token; errors use OpenAI's shape on these routes only.
struct OpenAIRoutes: Sendable {
    let relay: RelayService
    let limits: CompletionLimits
    /// SSE_HEARTBEAT_INTERVAL: a streamed completion is never silent longer (at most 5 s).
    let heartbeatInterval: Duration

    /// Access tokens as the rest of `/v1` takes them (`api`: the API's audience, first-party
    /// clients), or a personal API key.
    static func callerPolicy(api: CallerPolicy) -> CallerPolicy {
        var policy = api
        policy.acceptsAPIKeys = true
        return policy
    }

    /// Registers on the OpenAI-compatible subgroup of `/v1`, whose middleware answers every error
    /// in OpenAI's shape (`OpenAIErrorMiddleware`) and has verified the caller (`callerPolicy`).
    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("models") { _, context in
            let agents = try await relay.agents(userID: context.caller.userID)
            return try APIJSON.response(ModelList(data: agents.map { .init(id: $0.modelID, created: 0, ownedBy: $0.ownerName) }))
        }
        group.post("chat/completions") { request, context in
            // A completion may wait minutes for the agent; a client that leaves ends it.
            try await request.respondUnlessClientLeaves(context: context) { request in
                try await completion(request, context: context)
            } failure: { error in
                try OpenAIErrorMiddleware.response(for: error, request: request, context: context)
            }
        }
    }

    func completion(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let userID = context.caller.userID
        let body = try await APIJSON.decode(ChatCompletionRequest.self, from: request)
        guard let model = body.model, !model.isEmpty else { throw OpenAIError.invalid("model is required", param: "model") }
        guard let messages = body.messages, let last = messages.last else {
            throw OpenAIError.invalid("messages must hold at least one message", param: "messages")
        }
        guard last.role == "user", let text = last.content?.text, !text.isEmpty else {
            throw OpenAIError.invalid("the last message must be a user message with text", param: "messages")
        }
        // OpenAI's `developer` is its newer name for `system`; tool and function turns have no
        // meaning for an agent on someone's desktop, so they are refused rather than dropped.
        var turns: [ContextTurn] = []
        for turn in messages.dropLast() {
            let role = turn.role == "developer" ? "system" : turn.role
            guard RelayService.contextRoles.contains(role) else {
                throw OpenAIError.invalid(
                    "messages may have the roles system (or developer), user and assistant; \(turn.role.prefix(40)) is not supported",
                    param: "messages")
            }
            guard let text = turn.content?.text, !text.isEmpty else { continue }
            turns.append(ContextTurn(role: role, text: text))
        }
        return try await complete(
            userID: userID, model: model, text: text, context: turns, stream: body.stream == true, credential: context.caller.credential)
    }

    /// Relays one completion: the reply as one JSON answer, or streamed as chunks.
    func complete(
        userID: String, model: String, text: String, context: [ContextTurn], stream: Bool, credential: CallerCredential?
    ) async throws -> Response {
        // A model is named by its readable id (`GET /v1/models`) or, as before those, the agent's id.
        let agentID =
            UUID(uuidString: model) != nil
            ? model : try await relay.agents(userID: userID).first { $0.modelID == model }?.id
        guard let agentID else { throw OpenAIError.modelNotFound(model) }
        // A completion is a long response: it counts against MAX_STREAMS_PER_USER while open.
        let lease = try await relay.acquireStreamLease(userID: userID)
        let updates: AsyncThrowingStream<CompletionUpdate, any Error>
        do {
            updates = try await relay.complete(
                userID: userID, agentID: agentID, text: text, context: context, limits: limits, credential: credential)
        } catch {
            await lease.release()
            switch error {
            case RelayError.notFound, RelayError.shareRevoked: throw OpenAIError.modelNotFound(model)
            default: throw error
            }
        }
        let id = "chatcmpl-" + UUID().uuidString.lowercased()
        let created = Int(Date().timeIntervalSince1970)
        if stream {
            return Self.streamed(
                Paced.updates(updates, every: Paced<CompletionUpdate>.interval(heartbeatInterval)), id: id, created: created, model: model,
                lease: lease)
        }
        let reply = try await lease.hold {
            var reply = ""
            for try await update in updates {
                if case .done(let text) = update { reply = text }
            }
            return reply
        }
        return try APIJSON.response(
            ChatCompletion(id: id, created: created, model: model, text: PersonText.withoutControlCharacters(reply)))
    }

    /// `text/event-stream` of chunks: the role first, a chunk per delta, the final chunk with
    /// `finish_reason`, then `[DONE]`; a failure after the start is an `error` event.
    /// Reply text loses its control characters (terminal escapes) on the way out.
    static func streamed(
        _ updates: AsyncThrowingStream<Paced<CompletionUpdate>, any Error>, id: String, created: Int, model: String, lease: StreamLease
    ) -> Response {
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no",
        ]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                func send<T: Encodable>(_ value: T) async throws {
                    var buffer = ByteBuffer(string: "data: ")
                    buffer.writeBytes(try WireJSON.sharedEncoder.encode(value))
                    buffer.writeString("\n\n")
                    try await writer.write(buffer)
                }
                try await lease.hold {
                    try await send(ChatCompletionChunk(id: id, created: created, model: model, role: "assistant", content: ""))
                    var streamed = ""
                    do {
                        for try await paced in updates {
                            guard case .element(let update) = paced else {
                                // A comment, which OpenAI clients skip; a client that left is noticed here.
                                try await writer.write(ByteBuffer(string: ": waiting for the agent\n\n"))
                                continue
                            }
                            switch update {
                            case .delta(let text):
                                streamed += text
                                try await send(
                                    ChatCompletionChunk(
                                        id: id, created: created, model: model, content: PersonText.withoutControlCharacters(text)))
                            case .done(let text):
                                // Deltas are not stored: whatever of the final text the deltas missed.
                                if text.hasPrefix(streamed), text.count > streamed.count {
                                    try await send(
                                        ChatCompletionChunk(
                                            id: id, created: created, model: model,
                                            content: PersonText.withoutControlCharacters(String(text.dropFirst(streamed.count)))))
                                }
                            }
                        }
                        try await send(ChatCompletionChunk(id: id, created: created, model: model, finishReason: "stop"))
                    } catch {
                        try await send(OpenAIError(error).body)
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                }
                try await writer.finish(nil)
            })
    }
}

/// An error of the OpenAI-compatible routes, in OpenAI's shape.
struct OpenAIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let type: String
    let code: String?
    let message: String
    var param: String?
    /// Headers the error carries over (`Retry-After` of a rate limit).
    var headers: HTTPFields = [:]

    static func invalid(_ message: String, param: String? = nil) -> OpenAIError {
        OpenAIError(status: .badRequest, type: "invalid_request_error", code: nil, message: message, param: param)
    }

    static func modelNotFound(_ model: String) -> OpenAIError {
        OpenAIError(
            status: .notFound, type: "invalid_request_error", code: "model_not_found",
            message: "the model \(model) does not exist or you do not have access to it (its share may have been revoked)")
    }

    init(status: HTTPResponse.Status, type: String, code: String?, message: String, param: String? = nil) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
    }

    /// Any error a handler throws, as OpenAI names it.
    init(_ error: any Error) {
        switch error {
        case let error as OpenAIError:
            self = error
        case let failure as CompletionFailure:
            switch failure {
            case .hostOffline: self.init(status: .serviceUnavailable, type: "api_error", code: "host_offline", message: failure.description)
            case .agentFailed: self.init(status: .badGateway, type: "api_error", code: "agent_failed", message: failure.description)
            case .ended: self.init(status: .notFound, type: "invalid_request_error", code: "model_not_found", message: failure.description)
            case .timedOut: self.init(status: .gatewayTimeout, type: "api_error", code: "timeout", message: failure.description)
            case .interrupted:
                self.init(status: .badGateway, type: "api_error", code: "agent_interrupted", message: failure.description)
            case .credentialRevoked:
                self.init(status: .unauthorized, type: "authentication_error", code: "invalid_api_key", message: failure.description)
            }
        case let relay as RelayError:
            self.init(problem: relay.problem)
        case let problem as Problem:
            self.init(problem: problem)
        case let http as any HTTPResponseError:
            self.init(status: http.status, type: Self.type(for: http.status.code), code: nil, message: http.status.reasonPhrase)
        default:
            self.init(status: .internalServerError, type: "api_error", code: nil, message: "internal error")
        }
    }

    private init(problem: Problem) {
        let code: String? =
            switch problem.statusCode {
            case 401: "invalid_api_key"
            case 429: "rate_limit_exceeded"
            default: nil
            }
        self.init(
            status: .init(code: problem.statusCode), type: Self.type(for: problem.statusCode), code: code,
            message: problem.detail ?? problem.title)
        self.headers = problem.headers
    }

    static func type(for status: Int) -> String {
        switch status {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404, 400, 409, 413, 415: "invalid_request_error"
        case 429: "rate_limit_error"
        default: "api_error"
        }
    }

    var body: OpenAIErrorResponse {
        var response = OpenAIErrorResponse(message: message, type: type, code: code)
        response.error.param = param
        return response
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        if status == .unauthorized { headers[.wwwAuthenticate] = #"Bearer error="invalid_token""# }
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try WireJSON.sharedEncoder.encode(body))))
    }
}

/// Turns every error of the OpenAI-compatible routes into OpenAI's error shape.
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            // Answered here, so the router's problem+json handling never sees these routes' errors.
            return try Self.response(for: error, request: request, context: context)
        }
    }

    static func response(for error: any Error, request: Request, context: some RequestContext) throws -> Response {
        let openAIError = OpenAIError(error)
        if openAIError.status.code >= 500, !(error is CompletionFailure) {
            context.logger.error("request failed", metadata: ["event": "http.error", "error": "\(type(of: error))"])
        }
        return try openAIError.response(from: request, context: context)
    }
}
