// The JSON of the OAuth 2.1 authorization server (RFC 6749, 7009, 7517, 8414, 8628): what the
// server sends and clients read. Requests to it are forms, not JSON, so they have no type here.

/// RFC 8414 metadata at `/.well-known/oauth-authorization-server`: everything a client needs,
/// found from the gateway URL. The `*_supported` lists are optional for reading (RFC 8414 lets
/// servers omit them); this gateway always sends them.
public struct AuthorizationServerMetadata: Codable, Sendable, Equatable {
    public var issuer: String
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    public var revocationEndpoint: String
    public var deviceAuthorizationEndpoint: String?
    public var jwksURI: String?
    public var responseTypesSupported: [String]?
    public var responseModesSupported: [String]?
    public var grantTypesSupported: [String]?
    public var codeChallengeMethodsSupported: [String]?
    public var tokenEndpointAuthMethodsSupported: [String]?
    public var revocationEndpointAuthMethodsSupported: [String]?
    public var scopesSupported: [String]?
    /// RFC 9207: authorization responses carry `iss`.
    public var authorizationResponseIssParameterSupported: Bool?
    public var serviceDocumentation: String?
    /// RFC 7591 dynamic client registration.
    public var registrationEndpoint: String?
    /// Client ID Metadata Documents: a client may use the https URL of its metadata as `client_id`.
    public var clientIDMetadataDocumentSupported: Bool?

    public init(
        issuer: String, authorizationEndpoint: String, tokenEndpoint: String, revocationEndpoint: String,
        deviceAuthorizationEndpoint: String?, jwksURI: String?, responseTypesSupported: [String]?, responseModesSupported: [String]?,
        grantTypesSupported: [String]?, codeChallengeMethodsSupported: [String]?, tokenEndpointAuthMethodsSupported: [String]?,
        revocationEndpointAuthMethodsSupported: [String]?, scopesSupported: [String]?, authorizationResponseIssParameterSupported: Bool?,
        serviceDocumentation: String?, registrationEndpoint: String? = nil, clientIDMetadataDocumentSupported: Bool? = nil
    ) {
        self.issuer = issuer
        self.authorizationEndpoint = authorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.deviceAuthorizationEndpoint = deviceAuthorizationEndpoint
        self.jwksURI = jwksURI
        self.responseTypesSupported = responseTypesSupported
        self.responseModesSupported = responseModesSupported
        self.grantTypesSupported = grantTypesSupported
        self.codeChallengeMethodsSupported = codeChallengeMethodsSupported
        self.tokenEndpointAuthMethodsSupported = tokenEndpointAuthMethodsSupported
        self.revocationEndpointAuthMethodsSupported = revocationEndpointAuthMethodsSupported
        self.scopesSupported = scopesSupported
        self.authorizationResponseIssParameterSupported = authorizationResponseIssParameterSupported
        self.serviceDocumentation = serviceDocumentation
        self.registrationEndpoint = registrationEndpoint
        self.clientIDMetadataDocumentSupported = clientIDMetadataDocumentSupported
    }

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case revocationEndpoint = "revocation_endpoint"
        case deviceAuthorizationEndpoint = "device_authorization_endpoint"
        case jwksURI = "jwks_uri"
        case responseTypesSupported = "response_types_supported"
        case responseModesSupported = "response_modes_supported"
        case grantTypesSupported = "grant_types_supported"
        case codeChallengeMethodsSupported = "code_challenge_methods_supported"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
        case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
        case scopesSupported = "scopes_supported"
        case authorizationResponseIssParameterSupported = "authorization_response_iss_parameter_supported"
        case serviceDocumentation = "service_documentation"
        case registrationEndpoint = "registration_endpoint"
        case clientIDMetadataDocumentSupported = "client_id_metadata_document_supported"
    }
}

/// RFC 9728 protected resource metadata at `/.well-known/oauth-protected-resource[/path]`: which
/// authorization server issues tokens for a resource (the API or the MCP endpoint).
public struct ProtectedResourceMetadata: Codable, Sendable, Equatable {
    public var resource: String
    public var authorizationServers: [String]
    public var scopesSupported: [String]
    public var bearerMethodsSupported: [String]
    public var resourceName: String
    public var resourceDocumentation: String?

    public init(
        resource: String, authorizationServers: [String], scopesSupported: [String], bearerMethodsSupported: [String],
        resourceName: String, resourceDocumentation: String?
    ) {
        self.resource = resource
        self.authorizationServers = authorizationServers
        self.scopesSupported = scopesSupported
        self.bearerMethodsSupported = bearerMethodsSupported
        self.resourceName = resourceName
        self.resourceDocumentation = resourceDocumentation
    }

    enum CodingKeys: String, CodingKey {
        case resource
        case authorizationServers = "authorization_servers"
        case scopesSupported = "scopes_supported"
        case bearerMethodsSupported = "bearer_methods_supported"
        case resourceName = "resource_name"
        case resourceDocumentation = "resource_documentation"
    }
}

/// Client metadata (RFC 7591 section 2): what a client sends to register, what a Client ID
/// Metadata Document holds, and (with the issued fields) the registration response.
public struct OAuthClientMetadata: Codable, Sendable, Equatable {
    public var clientID: String?
    public var clientIDIssuedAt: Int?
    public var clientName: String?
    public var redirectURIs: [String]?
    public var grantTypes: [String]?
    public var responseTypes: [String]?
    public var tokenEndpointAuthMethod: String?
    public var scope: String?
    public var clientURI: String?

    public init(
        clientID: String? = nil, clientIDIssuedAt: Int? = nil, clientName: String? = nil, redirectURIs: [String]? = nil,
        grantTypes: [String]? = nil, responseTypes: [String]? = nil, tokenEndpointAuthMethod: String? = nil, scope: String? = nil,
        clientURI: String? = nil
    ) {
        self.clientID = clientID
        self.clientIDIssuedAt = clientIDIssuedAt
        self.clientName = clientName
        self.redirectURIs = redirectURIs
        self.grantTypes = grantTypes
        self.responseTypes = responseTypes
        self.tokenEndpointAuthMethod = tokenEndpointAuthMethod
        self.scope = scope
        self.clientURI = clientURI
    }

    enum CodingKeys: String, CodingKey {
        case scope
        case clientID = "client_id"
        case clientIDIssuedAt = "client_id_issued_at"
        case clientName = "client_name"
        case redirectURIs = "redirect_uris"
        case grantTypes = "grant_types"
        case responseTypes = "response_types"
        case tokenEndpointAuthMethod = "token_endpoint_auth_method"
        case clientURI = "client_uri"
    }
}

/// A token endpoint answer (RFC 6749 section 5.1).
public struct TokenResponse: Codable, Sendable, Equatable {
    public var accessToken: String
    /// `Bearer`.
    public var tokenType: String
    /// Seconds the access token lives.
    public var expiresIn: Int
    public var refreshToken: String
    public var scope: String

    public init(accessToken: String, tokenType: String, expiresIn: Int, refreshToken: String, scope: String) {
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.expiresIn = expiresIn
        self.refreshToken = refreshToken
        self.scope = scope
    }

    enum CodingKeys: String, CodingKey {
        case scope
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
    }
}

/// The device authorization endpoint's answer (RFC 8628 section 3.2).
public struct DeviceAuthorizationResponse: Codable, Sendable, Equatable {
    public var deviceCode: String
    /// The code as the terminal shows it (XXXX-XXXX).
    public var userCode: String
    public var verificationURI: String
    public var verificationURIComplete: String
    public var expiresIn: Int
    /// Seconds to wait between token polls.
    public var interval: Int

    public init(
        deviceCode: String, userCode: String, verificationURI: String, verificationURIComplete: String, expiresIn: Int, interval: Int
    ) {
        self.deviceCode = deviceCode
        self.userCode = userCode
        self.verificationURI = verificationURI
        self.verificationURIComplete = verificationURIComplete
        self.expiresIn = expiresIn
        self.interval = interval
    }

    enum CodingKeys: String, CodingKey {
        case interval
        case deviceCode = "device_code"
        case userCode = "user_code"
        case verificationURI = "verification_uri"
        case verificationURIComplete = "verification_uri_complete"
        case expiresIn = "expires_in"
    }
}

/// An OAuth error response (RFC 6749 section 5.2).
public struct OAuthErrorResponse: Codable, Sendable, Equatable {
    /// `invalid_grant`, `authorization_pending`…
    public var error: String
    public var errorDescription: String?

    public init(error: String, errorDescription: String?) {
        self.error = error
        self.errorDescription = errorDescription
    }

    enum CodingKeys: String, CodingKey {
        case error
        case errorDescription = "error_description"
    }
}

/// A public JSON Web Key (RFC 7517) for an Ed25519 signing key (RFC 8037).
public struct JSONWebKey: Codable, Sendable, Hashable {
    public var kty: String
    public var crv: String
    /// The raw 32-byte public key, base64url without padding.
    public var x: String
    public var kid: String
    public var alg: String
    public var use: String

    public init(kty: String, crv: String, x: String, kid: String, alg: String, use: String) {
        self.kty = kty
        self.crv = crv
        self.x = x
        self.kid = kid
        self.alg = alg
        self.use = use
    }
}

/// The document served at the JWKS endpoint: `{"keys":[…]}`.
public struct JSONWebKeySet: Codable, Sendable, Hashable {
    public var keys: [JSONWebKey]

    public init(keys: [JSONWebKey]) { self.keys = keys }
}
