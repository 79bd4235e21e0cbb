import Foundation
import GatewayAuth
import GatewayProtocol
import GatewayRelay
import Hummingbird

extension RelayError {
    /// The RFC 9457 problem a client sees; `type` values are stable.
    var problem: Problem {
        switch self {
        case .notFound(let detail): return Problem(.notFound, title: "Not found", status: 404, detail: detail)
        case .shareRevoked:
            return Problem(
                .shareRevoked, title: "Access revoked", status: 403,
                detail: "the share this access came through was revoked or given up")
        case .forbidden(let detail): return Problem(.forbidden, title: "Forbidden", status: 403, detail: detail)
        case .invalid(let detail): return Problem(.invalidRequest, title: "Invalid request", status: 400, detail: detail)
        case .conflict(let detail): return Problem(.conflict, title: "Conflict", status: 409, detail: detail)
        case .inviteExpired: return Problem(.inviteExpired, title: "Invite expired", status: 410, detail: "this invite has expired")
        case .inviteExhausted:
            return Problem(.inviteExhausted, title: "Invite used up", status: 410, detail: "this invite has reached its maximum uses")
        case .inviteRevoked: return Problem(.inviteRevoked, title: "Invite revoked", status: 410, detail: "the owner revoked this invite")
        case .ownInvite: return Problem(.ownInvite, title: "Own invite", status: 409, detail: "you already own this agent")
        case .tooLarge(let limit):
            return Problem(.messageTooLarge, title: "Message too large", status: 413, detail: "messages are limited to \(limit) bytes")
        case .rateLimited(let limit, let seconds):
            var problem = Problem(
                .rateLimited, title: "Too many requests", status: 429,
                detail: "over the limit of \(limit.summary) (\(limit.rawValue)); retry in \(seconds) seconds")
            problem.limit = limit.rawValue
            problem.headers[.retryAfter] = String(seconds)
            return problem
        case .tooManyStreams(let limit, let maximum):
            var problem = Problem(
                .tooManyStreams, title: "Too many open streams", status: 429,
                detail: "at most \(maximum) \(limit.summary) (\(limit.rawValue)); close one and try again")
            problem.limit = limit.rawValue
            problem.headers[.retryAfter] = "5"
            return problem
        case .sessionClosed: return Problem(.sessionClosed, title: "Session closed", status: 409, detail: "this session is closed")
        }
    }
}

/// JSON in and out for the `/v1` API, with problem responses for anything malformed.
enum APIJSON {
    static let maximumBodyBytes = 1 << 20

    /// Whether the request says its body is JSON (`application/json`, any parameters).
    static func isJSON(_ request: Request) -> Bool {
        guard let value = request.headers[.contentType] else { return false }
        let mediaType = value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return mediaType == "application/json"
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        // A body is applied only when it says it is JSON: a form or text/plain body (which a
        // cross-site form or a "simple" request can send) changes nothing.
        guard isJSON(request) else {
            throw Problem(
                .unsupportedMediaType, title: "Unsupported media type", status: 415,
                detail: "send the body as application/json (Content-Type: application/json)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBodyBytes)
        } catch {
            throw Problem(.bodyTooLarge, title: "Request body too large", status: 413, detail: "bodies are limited to 1 MiB")
        }
        guard buffer.readableBytes > 0 else {
            throw Problem(.invalidRequest, title: "Invalid request", status: 400, detail: "a JSON body is required")
        }
        // Text is stored as such (Postgres refuses NUL in text): say so instead of failing later.
        if String(buffer: buffer).lowercased().contains("\\u0000") {
            throw Problem(.invalidRequest, title: "Invalid request", status: 400, detail: "strings must not contain NUL characters")
        }
        do {
            return try WireJSON.sharedDecoder.decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw Problem(.invalidRequest, title: "Invalid request", status: 400, detail: describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing field \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            // A value of the right type that is not allowed, e.g. an unknown `kind`.
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) \(context.debugDescription)"
        case .dataCorrupted: return "the body is not valid JSON"
        @unknown default: return "the body could not be read"
        }
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(data: try WireJSON.sharedEncoder.encode(value))))
    }

    static func noContent() -> Response {
        Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }
}

/// Turns errors from `/v1` handlers into problem responses: domain refusals keep their meaning,
/// Hummingbird's own errors (unknown route, wrong method) keep their status, anything else is a
/// 500 that reveals nothing.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.lowercased().contains("%00") {
            throw Problem(.invalidRequest, title: "Invalid request", status: 400, detail: "paths must not contain NUL characters")
        }
        do {
            return try await next(request, context)
        } catch let relay as RelayError {
            throw relay.problem
        } catch let problem as Problem {
            throw problem
        } catch let oauth as OAuthError {
            throw OAuthErrorReply(error: oauth)
        } catch let http as HTTPError {
            if http.status == .notFound {
                throw Problem(.notFound, title: http.status.reasonPhrase, status: 404, detail: http.body)
            }
            throw Problem(httpStatus: Int(http.status.code), title: http.status.reasonPhrase, detail: http.body)
        } catch {
            context.logger.error("request failed", metadata: ["event": "http.error", "error": "\(type(of: error))"])
            throw Problem(.internal, title: "Internal error", status: 500, detail: "the gateway could not complete the request")
        }
    }
}

/// CORS for the origins in `CORS_ALLOWED_ORIGINS`; with none listed, browsers get no CORS
/// headers at all, which confines the API to the gateway's own origin.
struct AllowListCORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], allowed.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: origin, .vary: "Origin",
                    .accessControlAllowMethods: "GET, POST, PUT, PATCH, DELETE",
                    .accessControlAllowHeaders: "Authorization, Content-Type, Idempotency-Key, Last-Event-ID",
                    .accessControlMaxAge: "600",
                ])
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
        return response
    }
}
