import Foundation
import GatewayAuth
import GatewayProtocol
import GatewayRelay
import GatewayStore
import Hummingbird

/// `/v1/api-keys`: a signed-in user's personal API keys for AI clients. Managed with an access
/// token only: a key cannot list, make or revoke keys.
struct APIKeyRoutes: Sendable {
    let keys: APIKeyService
    /// Announces a revoked key, so the responses it holds open end on every replica.
    let relay: RelayService

    func register(on v1: RouterGroup<AuthenticatedContext>) {
        v1.get("api-keys") { _, context in
            try APIJSON.response(try await keys.list(userID: context.caller.userID).map(Self.view))
        }
        v1.post("api-keys") { request, context in
            let body = try await APIJSON.decode(APIKeyBody.self, from: request)
            do {
                let (record, key) = try await keys.create(userID: context.caller.userID, name: body.name, expiresIn: body.expiresIn)
                return try APIJSON.response(CreatedAPIKey(apiKey: Self.view(record), key: key), status: .created)
            } catch let refusal as APIKeyService.Refusal {
                switch refusal {
                case .invalid(let detail): throw Problem(.invalidRequest, title: "Invalid request", status: 400, detail: detail)
                case .tooMany: throw Problem(.conflict, title: "Conflict", status: 409, detail: refusal.description)
                }
            }
        }
        v1.delete("api-keys/:keyID") { _, context in
            let userID = context.caller.userID
            let keyID = try context.parameters.require("keyID")
            guard try await keys.revoke(userID: userID, id: keyID) else {
                throw Problem(.notFound, title: "Not found", status: 404, detail: "API key not found")
            }
            await relay.announceRevoked(.apiKey(id: keyID), userID: userID)
            return APIJSON.noContent()
        }
    }

    static func view(_ record: APIKeyRecord) -> APIKeyView {
        APIKeyView(
            id: record.id, name: record.name, prefix: record.prefix, createdAt: record.createdAt, expiresAt: record.expiresAt,
            lastUsedAt: record.lastUsedAt)
    }
}
