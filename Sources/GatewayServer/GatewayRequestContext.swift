import GatewayAuth
import GatewayRelay
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
    /// The id of that personal API key.
    public var apiKeyID: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
        self.caller = nil
        self.apiKeyUserID = nil
        self.apiKeyID = nil
    }

    /// The signed-in caller. Only `/v1` routes have one: the group's middleware refuses requests
    /// without a valid token before any handler runs.
    func requireCaller() throws -> AccessTokenClaims {
        guard let caller else { throw Problem.invalidToken("send an access token as Authorization: Bearer <token>") }
        return caller
    }

    /// What the caller authenticated with, for responses that end when it is revoked: the API
    /// key, or the sign-in of an access token (nil for tokens from before they named theirs).
    var credential: CallerCredential? {
        if let apiKeyID { return .apiKey(id: apiKeyID) }
        return caller?.familyID.map { .signIn(familyID: $0) }
    }

    /// The signed-in caller's user id (or, on the OpenAI-compatible routes, the API key's owner).
    func callerID() throws -> String {
        if let apiKeyUserID { return apiKeyUserID }
        return try requireCaller().subject
    }
}
