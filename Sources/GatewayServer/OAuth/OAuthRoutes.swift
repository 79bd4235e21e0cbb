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
        router.post("/oauth/register") { request, context in try await register(request, context) }
        // RFC 9728: the API's and the MCP endpoint's protected resource metadata (path-aware).
        router.get("/.well-known/oauth-protected-resource") { _, _ in
            Self.json(.ok, resourceMetadata(resource: base, name: "Agent gateway API"), cacheable: true)
        }
        router.get("/.well-known/oauth-protected-resource/mcp") { _, _ in
            Self.json(.ok, resourceMetadata(resource: server.mcpResource, name: "Agent gateway MCP server"), cacheable: true)
        }
    }

    func resourceMetadata(resource: String, name: String) -> Data {
        let document = ProtectedResourceMetadata(
            resource: resource, authorizationServers: [base], scopesSupported: AuthorizationServer.supportedScopes,
            bearerMethodsSupported: ["header"], resourceName: name, resourceDocumentation: "\(base)/")
        return (try? WireJSON.sharedEncoder.encode(document)) ?? Data()
    }

    // MARK: Dynamic client registration (RFC 7591)

    static let maximumRegistrationBytes = 16 * 1024

    func register(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        // JSON only: a form or text/plain body is what another site's page can make a
        // visitor's browser send without asking (a CORS simple request).
        guard APIJSON.isJSON(request) else {
            throw OAuthError("invalid_client_metadata", "send the client metadata as application/json (RFC 7591)", status: 415)
        }
        let address = clientIP(request, context)
        try await limiter.check(.register, clientIP: address)
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maximumRegistrationBytes)
        } catch {
            throw OAuthError(
                "invalid_client_metadata", "client metadata is limited to \(Self.maximumRegistrationBytes) bytes", status: 413)
        }
        let metadata: OAuthClientMetadata
        do {
            metadata = try JSONDecoder().decode(OAuthClientMetadata.self, from: Data(buffer: body))
        } catch {
            throw OAuthError("invalid_client_metadata", "send the client metadata as a JSON object (RFC 7591)")
        }
        let registered = try await server.thirdParty.register(metadata, from: address)
        return Self.json(.created, try WireJSON.sharedEncoder.encode(registered))
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
            serviceDocumentation: "\(base)/", registrationEndpoint: "\(base)/oauth/register",
            clientIDMetadataDocumentSupported: server.thirdParty.acceptsMetadataDocuments)
        let data = (try? WireJSON.sharedEncoder.encode(document)) ?? Data()
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    // MARK: Token, revocation, device authorization

    func token(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        try await limiter.check(.token, clientIP: clientIP(request, context))
        guard let form = try await FormData.body(of: request) else {
            throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
        }
        return Self.json(.ok, try WireJSON.sharedEncoder.encode(try await server.token(form)))
    }

    func revoke(_ request: Request) async throws -> Response {
        guard let form = try await FormData.body(of: request) else {
            throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
        }
        try await server.revoke(form)
        return Response(status: .ok, headers: [.cacheControl: "no-store"])
    }

    func deviceAuthorization(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        try await limiter.check(.authorize, clientIP: clientIP(request, context))
        guard let form = try await FormData.body(of: request) else {
            throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
        }
        let response = try await server.startDeviceAuthorization(form, verificationURI: "\(base)/device")
        return Self.json(.ok, try WireJSON.sharedEncoder.encode(response))
    }

    // MARK: Helpers

    func clientIP(_ request: Request, _ context: GatewayRequestContext) -> String {
        ClientAddress.of(
            request, context: context, trustedHops: configuration.auth.trustedProxyHops, ipv6Prefix: configuration.auth.ipv6PrefixLength)
    }

    static func json(_ status: HTTPResponse.Status, _ data: Data, cacheable: Bool = false) -> Response {
        let headers: HTTPFields =
            cacheable
            ? [.contentType: "application/json", .cacheControl: "public, max-age=300"]
            : [.contentType: "application/json", .cacheControl: "no-store", .init("Pragma")!: "no-cache"]
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }

}

/// RFC 6749 section 5.2: how an `OAuthError` reaches the client. The OAuth endpoints just throw
/// their `OAuthError`s; `ProblemMiddleware` hands them over as this, which renders itself as
/// `Problem` does on the API.
struct OAuthErrorReply: HTTPResponseError {
    let error: OAuthError

    var status: HTTPResponse.Status { .init(code: error.status) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = OAuthErrorResponse(error: error.code, errorDescription: error.message)
        var response = OAuthRoutes.json(status, try WireJSON.sharedEncoder.encode(body))
        if let retry = error.retryAfterSeconds { response.headers[.retryAfter] = String(retry) }
        if error.status == 401 { response.headers[.wwwAuthenticate] = #"Basic realm="gateway""# }
        return response
    }
}
