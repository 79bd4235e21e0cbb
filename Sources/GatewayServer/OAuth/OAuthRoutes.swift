import Foundation
import GatewayAuth
import GatewayConfig
import GatewayProtocol
import GatewayStore
import Hummingbird
import Logging

/// The authorization server's protocol endpoints: metadata, JWKS, token, revocation and device
/// authorization. The pages people sign in on are `SignInRoutes`.
struct OAuthRoutes: Sendable {
    let server: AuthorizationServer
    let limiter: AbuseLimiter
    let configuration: GatewayConfiguration

    var base: String { configuration.publicBaseURL }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/.well-known/oauth-authorization-server") { _, _ in metadata() }
        router.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(data: server.tokens.jwksJSON)))
        }
        router.post("/oauth/token") { request, context in try await token(request, context) }
        router.post("/oauth/revoke") { request, _ in try await revoke(request) }
        router.post("/oauth/device_authorization") { request, context in try await deviceAuthorization(request, context) }
    }

    // MARK: Metadata (RFC 8414)

    func metadata() -> Response {
        let document = AuthorizationServerMetadata(
            issuer: base, authorizationEndpoint: "\(base)/oauth/authorize", tokenEndpoint: "\(base)/oauth/token",
            revocationEndpoint: "\(base)/oauth/revoke", deviceAuthorizationEndpoint: "\(base)/oauth/device_authorization",
            jwksURI: "\(base)/.well-known/jwks.json", responseTypesSupported: ["code"], responseModesSupported: ["query"],
            grantTypesSupported: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
            codeChallengeMethodsSupported: ["S256"], tokenEndpointAuthMethodsSupported: ["none"],
            revocationEndpointAuthMethodsSupported: ["none"], scopesSupported: AuthorizationServer.supportedScopes,
            authorizationResponseIssParameterSupported: true,
            // The landing page: it links the API description and the docs (a path that resolves).
            serviceDocumentation: "\(base)/")
        let data = (try? WireJSON.sharedEncoder.encode(document)) ?? Data()
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    // MARK: Token, revocation, device authorization

    func token(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        do {
            try await limiter.check(.token, clientIP: clientIP(request, context))
            guard let form = try await FormData.body(of: request) else {
                throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
            }
            return Self.json(.ok, try WireJSON.sharedEncoder.encode(try await server.token(form)))
        } catch let error as OAuthError {
            return Self.oauthError(error)
        }
    }

    func revoke(_ request: Request) async throws -> Response {
        do {
            guard let form = try await FormData.body(of: request) else {
                throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
            }
            try await server.revoke(form)
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        } catch let error as OAuthError {
            return Self.oauthError(error)
        }
    }

    func deviceAuthorization(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        do {
            try await limiter.check(.authorize, clientIP: clientIP(request, context))
            guard let form = try await FormData.body(of: request) else {
                throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
            }
            let response = try await server.startDeviceAuthorization(form, verificationURI: "\(base)/device")
            return Self.json(.ok, try WireJSON.sharedEncoder.encode(response))
        } catch let error as OAuthError {
            return Self.oauthError(error)
        }
    }

    // MARK: Helpers

    func clientIP(_ request: Request, _ context: GatewayRequestContext) -> String {
        ClientAddress.of(request, context: context, trustedHops: configuration.auth.trustedProxyHops)
    }

    static func json(_ status: HTTPResponse.Status, _ data: Data) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store", .init("Pragma")!: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// RFC 6749 section 5.2 error body.
    static func oauthError(_ error: OAuthError) -> Response {
        let body = OAuthErrorResponse(error: error.code, errorDescription: error.message)
        var response = json(.init(code: error.status), (try? WireJSON.sharedEncoder.encode(body)) ?? Data())
        if let retry = error.retryAfterSeconds { response.headers[.retryAfter] = String(retry) }
        if error.status == 401 { response.headers[.wwwAuthenticate] = #"Basic realm="gateway""# }
        return response
    }
}
