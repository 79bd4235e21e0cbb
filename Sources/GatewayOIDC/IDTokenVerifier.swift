import Foundation
import GatewayAuth
import GatewayProtocol
import JWTKit

/// The claims of a token, by name, as they came.
package struct Claims: Sendable, Equatable, JWTPayload {
    package var values: [String: JSONValue]

    package init(_ values: [String: JSONValue]) {
        self.values = values
    }

    package init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    /// Checked by `IDTokenVerifier` with the configured leeway (jwt-kit's own checks have none).
    package func verify(using algorithm: some JWTAlgorithm) async throws {}

    package subscript(name: String) -> JSONValue? { values[name] }
}

/// Checks an ID token as OpenID Connect Core section 3.1.3.7 requires: an algorithm from a
/// fixed allow list that the provider also lists (never `none` or HMAC), the key chosen by
/// `kid` from the provider's published keys, `iss` exactly the issuer, `aud` the client id and
/// no other audience, `azp` (when present) the client id, `exp` and `iat` within the leeway,
/// and the `nonce` of this sign-in.
struct IDTokenVerifier {
    static let allowedAlgorithms: Set = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]

    let provider: OIDCProvider
    let clientID: String
    let leeway: Duration

    func verify(_ token: String, metadata: ProviderMetadata, nonce: String, now: Date = Date()) async throws(SignInError) -> Claims {
        let header = try Self.header(of: token)
        let offered = Set(metadata.idTokenSigningAlgValuesSupported ?? ["RS256"])
        guard let algorithm = header["alg"]?.string, Self.allowedAlgorithms.contains(algorithm), offered.contains(algorithm) else {
            throw .refused("The identity provider signed the sign-in with an algorithm this gateway does not accept.")
        }
        let kid = header["kid"]?.string
        var claims = await Self.verifySignature(token, key: try await provider.signingKey(kid: kid, metadata: metadata))
        // Without a `kid` the token names no key: after a rotation it fails against the cached
        // one, so the keys are fetched again (at most once a minute) and it is tried once more.
        if claims == nil, kid == nil, await provider.refetchAfterFailedVerification(metadata) {
            claims = await Self.verifySignature(token, key: try await provider.signingKey(kid: nil, metadata: metadata))
        }
        guard let claims else { throw .refused("The identity provider's sign-in could not be verified (bad signature).") }
        try check(claims, issuer: metadata.issuer, nonce: nonce, now: now)
        return claims
    }

    /// The claims when `key` verifies the signature, else nil. The collection holds only that
    /// key, so jwt-kit cannot fall back to another one.
    static func verifySignature(_ token: String, key: JWK) async -> Claims? {
        let keys = JWTKeyCollection()
        guard (try? await keys.add(jwk: key)) != nil else { return nil }
        return try? await keys.verify(token, as: Claims.self)
    }

    func check(_ claims: Claims, issuer: String, nonce: String, now: Date) throws(SignInError) {
        let leewaySeconds = Double(leeway.components.seconds)
        guard claims["iss"]?.string == issuer else { throw .refused("The sign-in was issued by another identity provider.") }
        guard let subject = claims["sub"]?.string, !subject.isEmpty, subject.utf8.count <= 255 else {
            throw .refused("The identity provider did not say who signed in.")
        }
        guard let audiences = claims["aud"]?.claimStrings, audiences.contains(clientID) else {
            throw .refused("The sign-in was meant for another application.")
        }
        guard audiences.allSatisfy({ $0 == clientID }) else {
            throw .refused("The sign-in names other applications as its audience, which this gateway does not trust.")
        }
        if let authorizedParty = claims["azp"], authorizedParty.string != clientID {
            throw .refused("The sign-in was made for another application (azp).")
        }
        guard let expiry = claims["exp"]?.claimNumber, now.timeIntervalSince1970 < expiry + leewaySeconds else {
            throw .refused("The sign-in expired. Check that this server's clock is right, then try again.")
        }
        guard let issuedAt = claims["iat"]?.claimNumber, issuedAt <= now.timeIntervalSince1970 + leewaySeconds else {
            throw .refused("The sign-in claims to be issued in the future. Check that this server's clock is right.")
        }
        guard let sent = claims["nonce"]?.string, OpaqueToken.constantTimeEquals(sent, nonce) else {
            throw .refused("The sign-in does not belong to this attempt (nonce). Start again.")
        }
    }

    /// The JOSE header, read before any key is chosen.
    static func header(of token: String) throws(SignInError) -> [String: JSONValue] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64URL: String(parts[0])),
            let header = try? JSONDecoder().decode([String: JSONValue].self, from: data)
        else { throw .refused("The identity provider's sign-in is not a valid token.") }
        return header
    }
}

extension Data {
    init?(base64URL: String) {
        var text = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        self.init(base64Encoded: text)
    }
}
