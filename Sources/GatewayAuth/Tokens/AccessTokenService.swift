import Crypto
import Foundation
import GatewayProtocol
import JWTKit

/// Issues and verifies the gateway's OAuth access tokens: JWTs signed with EdDSA (Ed25519).
///
/// The signing key is derived from `JWT_SIGNING_KEY` with HKDF-SHA256, so every replica given
/// the same secret signs and verifies with the same key, and publishes the same JWKS, without
/// any coordination or shared key storage.
///
/// Verification accepts exactly one key and one algorithm. The header's `alg` and `kid` are
/// checked here before jwt-kit sees the token, because jwt-kit falls back to its default key for
/// an unknown or missing `kid`; the key collection also holds only this service's key, so even
/// that fallback can never select anything else.
package struct AccessTokenService: Sendable, CustomStringConvertible, CustomReflectable {
    /// The only `alg` we sign with or accept.
    package static let algorithm = "EdDSA"
    /// Clock skew tolerated when checking `exp`. Replicas are NTP-synced and tokens are
    /// short-lived, so a few seconds absorbs skew between the issuing and the verifying replica
    /// without meaningfully extending a token's life. `iat` is not checked against the clock
    /// (only our key can mint tokens, and a skewed issuer must not cause spurious rejections).
    package static let clockLeeway: Duration = .seconds(5)
    /// Shorter secrets are refused; matches the `JWT_SIGNING_KEY` policy in GatewayConfig.
    package static let minimumKeyMaterialBytes = 32
    /// Anything longer cannot be one of ours; refuse it before parsing anything.
    static let maximumTokenBytes = 8192

    // Changing either string changes the key, invalidating every outstanding token.
    static let hkdfSalt = Array("gateway access-token hkdf salt v1".utf8)
    static let hkdfInfo = Array("gateway access-token signing key v1".utf8)

    package let issuer: String
    package let audience: String
    package let lifetime: Duration
    /// RFC 7638 JWK thumbprint of the public key: stable across replicas and restarts.
    package let keyID: String
    /// The public key set to serve at the JWKS endpoint.
    package let jwks: JSONWebKeySet
    /// ``jwks`` as JSON (sorted keys), ready to serve.
    package let jwksJSON: Data

    private let keys: JWTKeyCollection
    private let lifetimeSeconds: Int
    /// Tokens already verified by this process (see `VerifiedTokenCache`).
    let verified = VerifiedTokenCache(capacity: 50_000)

    package init(keyMaterial: [UInt8], issuer: String, audience: String, lifetime: Duration) async throws {
        guard keyMaterial.count >= Self.minimumKeyMaterialBytes else {
            throw AccessTokenError.invalidConfiguration(
                "signing key material must be at least \(Self.minimumKeyMaterialBytes) bytes")
        }
        guard !issuer.isEmpty else { throw AccessTokenError.invalidConfiguration("issuer is empty") }
        guard !audience.isEmpty else { throw AccessTokenError.invalidConfiguration("audience is empty") }
        // Whole seconds only: exp is an integer NumericDate; sub-second remainders are dropped.
        let seconds = lifetime.components.seconds
        guard seconds >= 1 else {
            throw AccessTokenError.invalidConfiguration("lifetime must be at least one second")
        }

        let privateKey = try Self.deriveSigningKey(from: keyMaterial)
        let x = Base64URL.encode(privateKey.publicKey.rawRepresentation)
        let keyID = Self.thumbprint(x: x)
        let jwks = JSONWebKeySet(keys: [
            JSONWebKey(kty: "OKP", crv: "Ed25519", x: x, kid: keyID, alg: Self.algorithm, use: "sig")
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]

        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.lifetimeSeconds = Int(seconds)
        self.keyID = keyID
        self.jwks = jwks
        self.jwksJSON = try encoder.encode(jwks)
        self.keys = JWTKeyCollection()
        // Sorted keys and unescaped slashes make tokens deterministic and a little shorter.
        await self.keys.add(
            eddsa: EdDSA.PrivateKey(backing: privateKey),
            kid: JWKIdentifier(string: keyID),
            serializer: DefaultJWTSerializer(jsonEncoder: encoder)
        )
    }

    /// Signs an access token for `subject` (the user id) on behalf of `clientID`, for `audience`
    /// (an RFC 8707 resource; the default is ``audience``, the gateway's API).
    package func issue(
        subject: String, clientID: String, scope: [String], audience: String? = nil, familyID: String? = nil, now: Date = Date()
    ) async throws -> IssuedAccessToken {
        guard !subject.isEmpty else { throw AccessTokenError.invalidClaim("sub") }
        guard !clientID.isEmpty else { throw AccessTokenError.invalidClaim("client_id") }
        // Scope is space-delimited on the wire, so a token containing a space would split in two.
        guard scope.allSatisfy({ !$0.isEmpty && !$0.contains(where: \.isWhitespace) }) else {
            throw AccessTokenError.invalidClaim("scope")
        }
        guard let issuedAt = Int(exactly: now.timeIntervalSince1970.rounded(.down)) else {
            throw AccessTokenError.invalidClaim("iat")
        }
        let (expiresAt, overflow) = issuedAt.addingReportingOverflow(lifetimeSeconds)
        guard !overflow else { throw AccessTokenError.invalidClaim("exp") }

        let payload = AccessTokenPayload(
            issuer: issuer,
            audience: audience ?? self.audience,
            subject: subject,
            clientID: clientID,
            scope: scope.joined(separator: " "),
            issuedAt: issuedAt,
            expiresAt: expiresAt,
            tokenID: UUID().uuidString,
            familyID: familyID
        )
        let token = try await keys.sign(payload, kid: JWKIdentifier(string: keyID), header: ["typ": "JWT"])
        return IssuedAccessToken(token: token, claims: payload.claims, expiresIn: lifetimeSeconds)
    }

    /// Verifies `token` for `audience` (default: ``audience``, the gateway's API) and returns its
    /// claims, or throws the first check that fails. A token issued for one resource is refused
    /// by every other.
    ///
    /// Order: shape → `alg` → `kid` → signature → payload shape → `iss` → `aud` → `exp`.
    /// Nothing from the payload is decoded before its signature has been checked.
    package func verify(_ token: String, audience: String? = nil, now: Date = Date()) async throws(AccessTokenError) -> AccessTokenClaims {
        let expectedAudience = audience ?? self.audience
        let leeway = TimeInterval(Self.clockLeeway.components.seconds)
        let cacheKey = VerifiedTokenCache.key(token)
        if let claims = verified.claims(for: cacheKey, now: now, leeway: leeway) {
            guard claims.audience == expectedAudience else { throw .wrongAudience }
            return claims
        }
        let header = try Self.unverifiedHeader(of: token)
        guard header.alg == Self.algorithm else { throw .unsupportedAlgorithm }
        guard header.kid == keyID else { throw .unknownKey }

        let payload: AccessTokenPayload
        do {
            payload = try await keys.verify(token, as: AccessTokenPayload.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .invalidSignature
        } catch {
            // jwt-kit's errors can quote decoder output; keep them out of ours.
            throw .malformed
        }

        guard payload.issuer == issuer else { throw .wrongIssuer }
        guard payload.audience == expectedAudience else { throw .wrongAudience }
        guard now.timeIntervalSince1970 < TimeInterval(payload.expiresAt) + leeway else { throw .expired }
        verified.insert(cacheKey, claims: payload.claims, expiresAt: payload.expiresAt, now: now)
        return payload.claims
    }

    package var description: String {
        "AccessTokenService(issuer: \(issuer), audience: \(audience), kid: \(keyID))"
    }

    // Keeps `dump()` and debuggers from walking into the key collection.
    package var customMirror: Mirror {
        Mirror(self, children: ["issuer": issuer, "audience": audience, "keyID": keyID, "lifetime": lifetime])
    }

    // MARK: - Key derivation

    /// The Ed25519 private key every replica derives from the same key material.
    static func deriveSigningKey(from keyMaterial: [UInt8]) throws -> Curve25519.Signing.PrivateKey {
        let seed = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: keyMaterial),
            salt: hkdfSalt,
            info: hkdfInfo,
            outputByteCount: 32
        )
        // Any 32 bytes are a valid Ed25519 seed; read them in place rather than copying them out.
        return try seed.withUnsafeBytes { try Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    static func thumbprint(x: String) -> String {
        let canonical = #"{"crv":"Ed25519","kty":"OKP","x":"\#(x)"}"#
        return Base64URL.encode(SHA256.hash(data: Array(canonical.utf8)))
    }

    // MARK: - Pre-verification parsing

    private struct HeaderFields: Decodable {
        let alg: String?
        let kid: String?
    }

    /// Reads `alg`/`kid` from an unverified token, and insists on a canonical compact JWS so that
    /// one signed token has exactly one accepted spelling.
    private static func unverifiedHeader(of token: String) throws(AccessTokenError) -> HeaderFields {
        guard token.utf8.count <= maximumTokenBytes else { throw .malformed }
        let segments = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        // The signature may be empty here (`alg: none`), so it is rejected by the `alg` check.
        guard segments.count == 3, !segments[0].isEmpty, !segments[1].isEmpty else { throw .malformed }
        guard let headerJSON = Base64URL.decodeCanonical(segments[0]),
            Base64URL.decodeCanonical(segments[1]) != nil,
            Base64URL.decodeCanonical(segments[2]) != nil
        else { throw .malformed }
        do {
            return try JSONDecoder().decode(HeaderFields.self, from: headerJSON)
        } catch {
            throw .malformed
        }
    }
}

/// base64url without padding (RFC 7515 §2).
private enum Base64URL {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes `text`, or returns nil unless it is exactly how ``encode(_:)`` spells the result.
    /// The round trip rejects padding, the standard alphabet, whitespace and stray low bits.
    static func decodeCanonical(_ text: Substring.UTF8View) -> Data? {
        var standard = String(Substring(text))
            .replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: standard), encode(data).utf8.elementsEqual(text) else { return nil }
        return data
    }
}
