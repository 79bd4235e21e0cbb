import Foundation
import GatewayProtocol

/// The parts of an OpenID Provider's discovery document (OpenID Connect Discovery 1.0, section
/// 3) the gateway uses.
package struct ProviderMetadata: Sendable, Decodable, Equatable {
    package let issuer: String
    package let authorizationEndpoint: String
    package let tokenEndpoint: String
    package let jwksURI: String
    package let userinfoEndpoint: String?
    /// Required by Discovery; RS256 when a provider leaves it out.
    package let idTokenSigningAlgValuesSupported: [String]?
    /// RFC 9207: when true, an authorization response without `iss` is refused.
    package let authorizationResponseIssParameterSupported: Bool?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case jwksURI = "jwks_uri"
        case userinfoEndpoint = "userinfo_endpoint"
        case idTokenSigningAlgValuesSupported = "id_token_signing_alg_values_supported"
        case authorizationResponseIssParameterSupported = "authorization_response_iss_parameter_supported"
    }

    package init(
        issuer: String, authorizationEndpoint: String, tokenEndpoint: String, jwksURI: String, userinfoEndpoint: String?,
        idTokenSigningAlgValuesSupported: [String]?, authorizationResponseIssParameterSupported: Bool?
    ) {
        self.issuer = issuer
        self.authorizationEndpoint = authorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.jwksURI = jwksURI
        self.userinfoEndpoint = userinfoEndpoint
        self.idTokenSigningAlgValuesSupported = idTokenSigningAlgValuesSupported
        self.authorizationResponseIssParameterSupported = authorizationResponseIssParameterSupported
    }

    /// Where the document of `issuer` lives: a trailing slash is dropped only to build this URL;
    /// the document's `issuer` must still equal `issuer` exactly.
    package static func discoveryURL(issuer: String) -> String {
        var base = issuer
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/.well-known/openid-configuration"
    }
}

/// Claims are read by configurable names, so they are kept as they came (GatewayProtocol's
/// `JSONValue`); these read them as OpenID Providers send them.
extension JSONValue {
    /// A number (NumericDate claims such as `exp`), integer or not.
    package var claimNumber: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// A boolean, or the strings "true"/"false" that some providers send.
    package var claimBool: Bool? {
        switch self {
        case .bool(let value): value
        case .string(let value): value == "true" ? true : value == "false" ? false : nil
        default: nil
        }
    }

    /// A list of strings, or one string as a list of one (`aud`, group claims).
    package var claimStrings: [String]? {
        switch self {
        case .string(let value): [value]
        case .array(let values): values.compactMap(\.string)
        default: nil
        }
    }
}
