import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import Hummingbird

/// `GET /v1/me`: who the token belongs to, and whether this gateway is a non-production one.
struct MeRoutes: Sendable {
    let authentication: BearerAuthentication
    let store: GatewayStore
    let authMode: AuthMode

    struct Me: Encodable {
        let id: String
        let displayName: String
        let createdAt: Date
        let authMode: String
        let nonProduction: Bool
        let clientID: String

        enum CodingKeys: String, CodingKey {
            case id
            case displayName = "display_name"
            case createdAt = "created_at"
            case authMode = "auth_mode"
            case nonProduction = "non_production"
            case clientID = "client_id"
        }
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/v1/me") { request, _ in
            let claims = try await authentication.claims(for: request)
            guard let user = try await store.user(id: claims.subject) else {
                throw Problem.invalidToken("the token's user no longer exists")
            }
            let me = Me(
                id: user.id, displayName: user.displayName, createdAt: user.createdAt, authMode: authMode.rawValue,
                nonProduction: authMode == .demo, clientID: claims.clientID)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.sortedKeys]
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(me))))
        }
    }
}
