/// A public JSON Web Key (RFC 7517) for an Ed25519 signing key (RFC 8037).
public struct JSONWebKey: Codable, Sendable, Hashable {
    public let kty: String
    public let crv: String
    /// The raw 32-byte public key, base64url without padding.
    public let x: String
    public let kid: String
    public let alg: String
    public let use: String

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
    public let keys: [JSONWebKey]

    public init(keys: [JSONWebKey]) {
        self.keys = keys
    }
}
