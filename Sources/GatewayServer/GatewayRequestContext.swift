import Hummingbird
import NIOCore

/// Per-request context: the peer address (rate limits), the connection (event streams), and on
/// authenticated route groups the caller their `CallerAuthenticationMiddleware` verified, from
/// which the group's `AuthenticatedContext` is made.
public struct GatewayRequestContext: RequestContext, ConnectionRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection, so a long-lived response notices at once when the client goes away.
    public let channel: any Channel
    var caller: Caller?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
        self.caller = nil
    }
}
