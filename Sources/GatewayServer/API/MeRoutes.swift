import Foundation
import GatewayConfig
import GatewayProtocol
import GatewayStore
import Hummingbird

/// `GET /v1/me`: who the token belongs to, and whether this gateway is a non-production one.
struct MeRoutes: Sendable {
    let store: GatewayStore
    let authMode: AuthMode
    /// The connector's: a demo gateway says so to every client.
    let nonProduction: Bool

    /// Registers on the `/v1` group, whose middleware has verified the caller's token.
    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.get("me") { _, context in
            // The API group takes access tokens only.
            guard case .user(let caller) = context.caller else { throw Problem.invalidToken("send an access token") }
            guard let user = try await store.user(id: caller.subject) else {
                throw Problem.invalidToken("the token's user no longer exists")
            }
            return try APIJSON.response(
                Me(
                    id: user.id, displayName: user.displayName, createdAt: user.createdAt, authMode: authMode.rawValue,
                    nonProduction: nonProduction, clientID: caller.clientID))
        }
    }
}
