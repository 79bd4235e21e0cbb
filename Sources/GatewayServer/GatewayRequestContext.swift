import Hummingbird
import NIOCore

/// Per-request context: the peer address (rate limits), the connection (event streams), and on
/// authenticated route groups the caller their `CallerAuthenticationMiddleware` verified, from
/// which the group's `AuthenticatedContext` is made.
package struct GatewayRequestContext: RequestContext, ConnectionRequestContext {
    package var coreContext: CoreRequestContextStorage
    package let remoteAddress: SocketAddress?
    /// The connection, so a long-lived response notices at once when the client goes away.
    package let channel: any Channel
    var caller: Caller?

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
        self.caller = nil
    }
}
