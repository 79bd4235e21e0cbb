import GatewayAuth
import GatewayRelay
import Hummingbird
import NIOCore

/// Who a request comes from, once its credential is verified.
enum Caller: Sendable {
    /// An access token's verified claims: its user, client, resource and sign-in.
    case user(AccessTokenClaims)
    /// A personal API key (accepted by the OpenAI-compatible routes and `/mcp` only).
    case apiKey(id: String, userID: String)

    var userID: String {
        switch self {
        case .user(let claims): claims.subject
        case .apiKey(_, let userID): userID
        }
    }

    /// What the caller authenticated with, for responses that end when it is revoked: the API
    /// key, or the sign-in of an access token (nil for tokens from before they named theirs).
    var credential: CallerCredential? {
        switch self {
        case .user(let claims): claims.familyID.map { .signIn(familyID: $0) }
        case .apiKey(let id, _): .apiKey(id: id)
        }
    }
}

/// A request context with the connection it arrived on: long responses (event streams, relayed
/// completions) notice there at once when their client goes away.
protocol ConnectionRequestContext: RequestContext, RemoteAddressRequestContext {
    var channel: any Channel { get }
}

/// The context of every authenticated route: made from the router's context once its group's
/// `CallerAuthenticationMiddleware` has verified the credential, so `caller` is never missing and
/// a handler has nothing to check.
struct AuthenticatedContext: ChildRequestContext, ConnectionRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    let channel: any Channel
    let caller: Caller

    init(context: GatewayRequestContext) throws {
        // Only reachable without a caller if a group forgot its authenticator: refuse, never serve.
        guard let caller = context.caller else { throw Problem.invalidToken("send an access token as Authorization: Bearer <token>") }
        self.coreContext = context.coreContext
        self.remoteAddress = context.remoteAddress
        self.channel = context.channel
        self.caller = caller
    }
}
