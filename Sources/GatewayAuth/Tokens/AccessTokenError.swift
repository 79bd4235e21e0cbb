/// Why an access token was refused, or why the service could not be set up or issue one.
///
/// Descriptions are fixed strings: they never carry token text, claim values or key material,
/// so an error can be logged or returned to a client as-is.
package enum AccessTokenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not a compact JWS we can read: wrong shape, bad base64url, non-JSON header, oversized,
    /// or a (validly signed) payload that lacks a required claim such as `iat` or `exp`.
    case malformed
    /// The header's `alg` is anything but `EdDSA` (including `none` and HMAC algorithms).
    case unsupportedAlgorithm
    /// The header's `kid` is missing or names a key other than this service's.
    case unknownKey
    /// The signature does not verify with this service's public key.
    case invalidSignature
    /// `iss` is not this gateway.
    case wrongIssuer
    /// `aud` is not this gateway's resource.
    case wrongAudience
    /// `exp` has passed (beyond ``AccessTokenService/clockLeeway``).
    case expired
    /// The service was constructed with unusable settings; the reason is a fixed string.
    case invalidConfiguration(String)
    /// `issue` was asked to put an unrepresentable value in the named claim.
    case invalidClaim(String)

    package var description: String {
        switch self {
        case .malformed: "access token is malformed"
        case .unsupportedAlgorithm: "access token uses an unsupported algorithm"
        case .unknownKey: "access token was signed with an unknown key"
        case .invalidSignature: "access token signature is invalid"
        case .wrongIssuer: "access token was issued by another issuer"
        case .wrongAudience: "access token is intended for another audience"
        case .expired: "access token has expired"
        case .invalidConfiguration(let reason): "access token service misconfigured: \(reason)"
        case .invalidClaim(let name): "cannot issue access token: invalid \(name) claim"
        }
    }
}
