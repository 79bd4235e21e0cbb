import Foundation
import GatewayAuth
import GatewayProtocol
import GatewayRelay
import Hummingbird
import NIOCore

/// What one route group accepts as `Authorization: Bearer …` and how it refuses the rest.
struct CallerPolicy: Sendable {
    /// How a refusal reads: problem details (the API, and the OpenAI-compatible routes, whose
    /// error middleware turns a problem into OpenAI's shape), or the MCP authorization spec's
    /// OAuth error with the protected resource's metadata in `WWW-Authenticate`.
    enum Challenge: Sendable {
        case problem
        case mcp(resourceMetadataURL: String)
    }

    /// Whether a personal API key is accepted besides access tokens.
    var acceptsAPIKeys = false
    /// The resource access tokens must be for (RFC 8707); nil is the gateway's API.
    var audience: String? = nil
    /// The clients whose tokens are accepted; nil accepts any. The API takes tokens of the
    /// gateway's own applications only: a third-party client (registered, or known by its
    /// metadata document) is never given the API, and this makes sure of it.
    var clients: Set<String>? = nil
    /// Whether the tokens of a revoked sign-in are refused at once rather than when they expire
    /// (one store read per request; `/mcp`, whose third-party clients a person may just have cut off).
    var refusesRevokedSignIns = false
    var challenge = Challenge.problem
}

/// Why a request has no caller: nothing usable was sent, or what was sent is not valid.
struct CallerRefusal: Error {
    let credentialsSent: Bool
    let reason: String
}

/// Verifies the one credential a request may carry, access token or personal API key, under a
/// group's policy. The only place a bearer credential is parsed.
struct CallerAuthenticator: Sendable {
    let tokens: AccessTokenService
    let keys: APIKeyService
    let relay: RelayService

    func caller(for request: Request, policy: CallerPolicy) async throws -> Caller {
        let accepted = policy.acceptsAPIKeys ? "an access token or a personal API key" : "an access token"
        guard let header = request.headers[.authorization] else {
            throw CallerRefusal(credentialsSent: false, reason: "send \(accepted) as Authorization: Bearer <token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw CallerRefusal(credentialsSent: false, reason: "the Authorization header must use the Bearer scheme")
        }
        let credential = String(parts[1])
        if APIKeyService.looksLikeKey(credential) {
            guard policy.acceptsAPIKeys else {
                throw CallerRefusal(
                    credentialsSent: true, reason: "personal API keys are for the OpenAI-compatible routes and /mcp; send an access token")
            }
            guard let key = try await keys.authenticate(credential) else {
                throw CallerRefusal(credentialsSent: true, reason: "the API key is not valid: unknown, revoked or expired")
            }
            return .apiKey(id: key.id, userID: key.userID)
        }
        let claims: AccessTokenClaims
        do {
            claims = try await tokens.verify(credential, audience: policy.audience)
        } catch {
            throw CallerRefusal(credentialsSent: true, reason: error.description)
        }
        if let clients = policy.clients, !clients.contains(claims.clientID) {
            throw CallerRefusal(credentialsSent: true, reason: "this token was issued to a third-party client, which may use /mcp only")
        }
        if policy.refusesRevokedSignIns, let familyID = claims.familyID, try await !relay.isSignInActive(familyID: familyID) {
            throw CallerRefusal(credentialsSent: true, reason: "this sign-in was revoked; sign in again")
        }
        return .user(claims)
    }
}

/// Authentication as structure: an authenticated route group runs every request through this,
/// then makes its `AuthenticatedContext` from the caller it leaves in the context, so a handler
/// cannot forget to check and never sees a request without a caller.
struct CallerAuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let authenticator: CallerAuthenticator
    let policy: CallerPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        do {
            context.caller = try await authenticator.caller(for: request, policy: policy)
        } catch let refusal as CallerRefusal {
            switch policy.challenge {
            case .problem:
                throw Problem.invalidToken(refusal.reason)
            case .mcp(let metadata):
                return Self.mcpRefusal(
                    .unauthorized, error: refusal.credentialsSent ? "invalid_token" : nil, refusal.reason, resourceMetadataURL: metadata)
            }
        }
        return try await next(request, context)
    }

    /// The MCP authorization spec's refusal: an OAuth error body and, on 401, the protected
    /// resource's metadata in `WWW-Authenticate` so a client can discover where to sign in.
    static func mcpRefusal(
        _ status: HTTPResponse.Status, error: String?, _ description: String, resourceMetadataURL: String? = nil
    ) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if let resourceMetadataURL {
            let errorPart = error.map { #"error="\#($0)", "# } ?? ""
            headers[.wwwAuthenticate] = #"Bearer \#(errorPart)resource_metadata="\#(resourceMetadataURL)""#
        }
        let body: JSONValue = [
            "error": .string(error ?? (status == .forbidden ? "forbidden" : "unauthorized")), "error_description": .string(description),
        ]
        return Response(
            status: status, headers: headers,
            body: .init(byteBuffer: ByteBuffer(data: (try? WireJSON.sharedEncoder.encode(body)) ?? Data())))
    }
}
