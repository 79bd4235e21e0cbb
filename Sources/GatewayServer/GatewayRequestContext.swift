import GatewayAuth
import Hummingbird
import NIOCore

/// Per-request context: the peer address (rate limits) and the connection (event streams).
public struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection, so a long-lived response notices at once when the client goes away.
    public let channel: any Channel
    /// The verified access token of a `/v1` request, put here by `BearerAuthenticationMiddleware`.
    public var caller: AccessTokenClaims?
    /// The owner of the personal API key of a request to the OpenAI-compatible routes, put here by
    /// `OpenAIAuthenticationMiddleware` (no other route accepts keys).
    public var apiKeyUserID: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
        self.caller = nil
        self.apiKeyUserID = nil
    }

    /// The signed-in caller. Only `/v1` routes have one: the group's middleware refuses requests
    /// without a valid token before any handler runs.
    func requireCaller() throws -> AccessTokenClaims {
        guard let caller else { throw Problem.invalidToken("send an access token as Authorization: Bearer <token>") }
        return caller
    }

    /// The signed-in caller's user id (or, on the OpenAI-compatible routes, the API key's owner).
    func callerID() throws -> String {
        if let apiKeyUserID { return apiKeyUserID }
        return try requireCaller().subject
    }
}
