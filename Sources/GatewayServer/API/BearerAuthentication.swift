import GatewayAuth
import Hummingbird

/// Verifies `Authorization: Bearer <access token>` for every `/v1` route and hands the claims
/// to the handler. Anything else is a 401 problem with `WWW-Authenticate: Bearer`.
struct BearerAuthentication: Sendable {
    let tokens: AccessTokenService
    /// The resource tokens must be for (RFC 8707); nil is the gateway's API.
    var audience: String? = nil
    /// The clients whose tokens are accepted; nil accepts any. The API takes tokens of the
    /// gateway's own applications only: a third-party client (registered, or known by its
    /// metadata document) is never given the API, and this makes sure of it.
    var clients: Set<String>? = nil

    func claims(for request: Request) async throws -> AccessTokenClaims {
        guard let header = request.headers[.authorization] else {
            throw Problem.invalidToken("send an access token as Authorization: Bearer <token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.invalidToken("the Authorization header must use the Bearer scheme")
        }
        let claims: AccessTokenClaims
        do {
            claims = try await tokens.verify(String(parts[1]), audience: audience)
        } catch {
            throw Problem.invalidToken(error.description)
        }
        if let clients, !clients.contains(claims.clientID) {
            throw Problem.invalidToken("this token was issued to a third-party client, which may use /mcp only")
        }
        return claims
    }
}

/// Authentication as structure: the `/v1` route group runs every request through this, so a
/// handler cannot forget to check the token; handlers read the caller from the context.
struct BearerAuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let authentication: BearerAuthentication

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.caller = try await authentication.claims(for: request)
        return try await next(request, context)
    }
}
