import Crypto
import Foundation
import GatewayAuth
import GatewayProtocol
import Testing

/// Access tokens are the gateway's bearer credentials: these tests pin the wire format,
/// the replica-independent key derivation, and every way a foreign token must be refused.
@Suite("Access tokens")
struct AccessTokenServiceTests {
    static let keyMaterial = Array("test-only signing key material, 48 bytes long!!".utf8)
    static let issuer = "https://gateway.example.com"
    static let audience = "https://gateway.example.com/mcp"
    static let lifetime: Duration = .seconds(900)
    /// A fixed clock so expiry checks are exact.
    static let now = Date(timeIntervalSince1970: 1_750_000_000)

    func makeService(
        keyMaterial: [UInt8] = Self.keyMaterial, issuer: String = Self.issuer, audience: String = Self.audience
    ) async throws -> AccessTokenService {
        try await AccessTokenService(keyMaterial: keyMaterial, issuer: issuer, audience: audience, lifetime: Self.lifetime)
    }

    /// Asserts that verifying `token` at `now` fails with exactly `expected`.
    func expectRejected(
        _ token: String, _ expected: AccessTokenError, by service: AccessTokenService, at now: Date = Self.now,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            let claims = try await service.verify(token, now: now)
            Issue.record("accepted a token that should fail with \(expected): sub=\(claims.subject)", sourceLocation: sourceLocation)
        } catch {
            #expect(error == expected, sourceLocation: sourceLocation)
        }
    }

    // MARK: - Happy path

    @Test func roundTripPreservesClaims() async throws {
        let service = try await makeService()
        let issued = try await service.issue(
            subject: "user-42", clientID: "client-7", scope: ["mcp:tools", "profile"], now: Self.now)

        #expect(issued.expiresIn == 900)
        #expect(issued.claims.expiresAt.timeIntervalSince(issued.claims.issuedAt) == 900)
        #expect(issued.claims.issuedAt == Self.now)
        #expect(UUID(uuidString: issued.claims.tokenID) != nil)

        let claims = try await service.verify(issued.token, now: Self.now)
        #expect(claims == issued.claims)
        #expect(claims.issuer == Self.issuer)
        #expect(claims.audience == Self.audience)
        #expect(claims.subject == "user-42")
        #expect(claims.clientID == "client-7")
        #expect(claims.scope == ["mcp:tools", "profile"])

        let header = try jsonObject(segment(issued.token, 0))
        #expect(header["alg"] as? String == "EdDSA")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] as? String == service.keyID)

        let payload = try jsonObject(segment(issued.token, 1))
        #expect(Set(payload.keys) == ["iss", "aud", "sub", "client_id", "scope", "iat", "exp", "jti"])
        #expect(payload["scope"] as? String == "mcp:tools profile")
        #expect(payload["iat"] as? Int == 1_750_000_000)
        #expect(payload["exp"] as? Int == 1_750_000_900)
    }

    @Test func everyIssueGetsAFreshTokenID() async throws {
        let service = try await makeService()
        let a = try await service.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        let b = try await service.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        #expect(a.claims.tokenID != b.claims.tokenID)
        #expect(try await service.verify(a.token, now: Self.now).scope == [])
    }

    @Test func replicasWithTheSameKeyMaterialAgree() async throws {
        let first = try await makeService()
        let second = try await makeService()

        #expect(first.keyID == second.keyID)
        #expect(first.jwks == second.jwks)
        #expect(first.jwksJSON == second.jwksJSON)

        let fromFirst = try await first.issue(subject: "u1", clientID: "c", scope: ["a"], now: Self.now)
        let fromSecond = try await second.issue(subject: "u2", clientID: "c", scope: ["b"], now: Self.now)
        #expect(try await second.verify(fromFirst.token, now: Self.now) == fromFirst.claims)
        #expect(try await first.verify(fromSecond.token, now: Self.now) == fromSecond.claims)
    }

    /// The derivation is a cross-replica, cross-version contract: recompute it independently.
    @Test func keyDerivationMatchesDocumentedContract() async throws {
        let service = try await makeService()
        let publicKey = try Self.ourSigningKey().publicKey
        let x = base64url(publicKey.rawRepresentation)
        let thumbprint = base64url(SHA256.hash(data: Data(#"{"crv":"Ed25519","kty":"OKP","x":"\#(x)"}"#.utf8)))

        #expect(service.jwks.keys.count == 1)
        #expect(service.jwks.keys.first?.x == x)
        #expect(service.keyID == thumbprint)
    }

    @Test func jwksDocumentHasTheExpectedShape() async throws {
        let service = try await makeService()
        let document = try jsonObject(service.jwksJSON)
        let keys = try #require(document["keys"] as? [[String: Any]])
        #expect(keys.count == 1)
        let key = try #require(keys.first)
        #expect(Set(key.keys) == ["kty", "crv", "x", "kid", "alg", "use"])
        #expect(key["kty"] as? String == "OKP")
        #expect(key["crv"] as? String == "Ed25519")
        #expect(key["alg"] as? String == "EdDSA")
        #expect(key["use"] as? String == "sig")
        #expect(key["kid"] as? String == service.keyID)
    }

    /// A resource server holding only the published JWKS can check our signatures.
    @Test func jwksPublicKeyVerifiesIssuedToken() async throws {
        let service = try await makeService()
        let issued = try await service.issue(subject: "u", clientID: "c", scope: ["x"], now: Self.now)

        let document = try JSONDecoder().decode(JSONWebKeySet.self, from: service.jwksJSON)
        let jwk = try #require(document.keys.first)
        let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: try #require(base64urlDecode(jwk.x)))

        let parts = issued.token.split(separator: ".", omittingEmptySubsequences: false)
        let signature = try #require(base64urlDecode(String(parts[2])))
        #expect(publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))
        #expect(!publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])x".utf8)))
    }

    // MARK: - Keys and algorithms

    @Test func tokenFromDifferentKeyMaterialIsUnknownKey() async throws {
        let other = try await makeService(keyMaterial: Array("another deployment's key material, 48 bytes!!".utf8))
        let service = try await makeService()
        #expect(other.keyID != service.keyID)
        let foreign = try await other.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        // The kid check runs before the signature check, so another deployment's token is an unknown key.
        await expectRejected(foreign.token, .unknownKey, by: service)
    }

    @Test func foreignEd25519KeyClaimingOurKidIsInvalidSignature() async throws {
        let service = try await makeService()
        let foreignKey = Curve25519.Signing.PrivateKey()
        let token = try craft(
            header: ["alg": "EdDSA", "typ": "JWT", "kid": service.keyID], payload: validPayload(),
            signer: { try foreignKey.signature(for: $0) })
        await expectRejected(token, .invalidSignature, by: service)
    }

    @Test func algNoneIsUnsupportedAlgorithm() async throws {
        let service = try await makeService()
        let header = base64url(try json(["alg": "none", "typ": "JWT", "kid": service.keyID]))
        let payload = base64url(try json(validPayload()))
        await expectRejected("\(header).\(payload).", .unsupportedAlgorithm, by: service)
    }

    /// Classic confusion attack: HMAC "signed" with the secret the server holds.
    @Test func hs256SignedWithKeyMaterialIsUnsupportedAlgorithm() async throws {
        let service = try await makeService()
        let token = try craft(
            header: ["alg": "HS256", "typ": "JWT", "kid": service.keyID], payload: validPayload(),
            signer: { Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Self.keyMaterial))) })
        await expectRejected(token, .unsupportedAlgorithm, by: service)
    }

    @Test func missingAlgIsUnsupportedAlgorithm() async throws {
        let service = try await makeService()
        let token = try craft(header: ["typ": "JWT", "kid": service.keyID], payload: validPayload(), signer: ourSignature)
        await expectRejected(token, .unsupportedAlgorithm, by: service)
    }

    /// Signed with our real key, so only the kid check can refuse it (jwt-kit alone would fall back).
    @Test func otherKidIsUnknownKey() async throws {
        let service = try await makeService()
        let token = try craft(header: ["alg": "EdDSA", "typ": "JWT", "kid": "other"], payload: validPayload(), signer: ourSignature)
        await expectRejected(token, .unknownKey, by: service)
    }

    @Test func missingKidIsUnknownKey() async throws {
        let service = try await makeService()
        let token = try craft(header: ["alg": "EdDSA", "typ": "JWT"], payload: validPayload(), signer: ourSignature)
        await expectRejected(token, .unknownKey, by: service)
    }

    /// Sanity check for the crafting helpers: a hand-built token with our key is accepted.
    @Test func handCraftedTokenWithOurKeyIsAccepted() async throws {
        let service = try await makeService()
        let token = try craft(
            header: ["alg": "EdDSA", "typ": "JWT", "kid": service.keyID], payload: validPayload(), signer: ourSignature)
        #expect(try await service.verify(token, now: Self.now).subject == "user-1")
    }

    // MARK: - Tampering

    @Test func tamperedPayloadIsInvalidSignature() async throws {
        let service = try await makeService()
        let issued = try await service.issue(subject: "user-1", clientID: "c", scope: ["a"], now: Self.now)
        var payload = try jsonObject(segment(issued.token, 1))
        payload["sub"] = "admin"
        let parts = issued.token.split(separator: ".")
        let forged = "\(parts[0]).\(base64url(try json(payload))).\(parts[2])"
        await expectRejected(forged, .invalidSignature, by: service)
    }

    @Test func tamperedHeaderIsInvalidSignature() async throws {
        let service = try await makeService()
        let issued = try await service.issue(subject: "user-1", clientID: "c", scope: ["a"], now: Self.now)
        var header = try jsonObject(segment(issued.token, 0))
        header["typ"] = "at+jwt"
        let parts = issued.token.split(separator: ".")
        let forged = "\(base64url(try json(header))).\(parts[1]).\(parts[2])"
        await expectRejected(forged, .invalidSignature, by: service)
    }

    @Test func truncatedSignatureIsInvalidSignature() async throws {
        let service = try await makeService()
        let issued = try await service.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        let parts = issued.token.split(separator: ".")
        // Re-encode 63 of the 64 bytes so the segment stays canonical base64url.
        let shortened = base64url(try #require(base64urlDecode(String(parts[2]))).dropLast())
        await expectRejected("\(parts[0]).\(parts[1]).\(shortened)", .invalidSignature, by: service)
        await expectRejected("\(parts[0]).\(parts[1]).", .invalidSignature, by: service)
    }

    /// The last base64url character of a 64-byte signature carries 4 unused bits; setting one
    /// yields the same bytes. Refusing that spelling keeps one token string per signed token.
    @Test func nonCanonicalBase64IsMalformed() async throws {
        let service = try await makeService()
        let issued = try await service.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = try #require(issued.token.last)
        let index = try #require(alphabet.firstIndex(of: last))
        let sibling = alphabet[index ^ 1]
        await expectRejected(String(issued.token.dropLast()) + String(sibling), .malformed, by: service)
        await expectRejected(issued.token + "==", .malformed, by: service)
    }

    // MARK: - Claims

    @Test func wrongIssuerIsRejected() async throws {
        let impostor = try await makeService(issuer: "https://evil.example.com")
        let service = try await makeService()
        let issued = try await impostor.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        await expectRejected(issued.token, .wrongIssuer, by: service)
    }

    @Test func wrongAudienceIsRejected() async throws {
        let otherResource = try await makeService(audience: "https://other.example.com/api")
        let service = try await makeService()
        let issued = try await otherResource.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        await expectRejected(issued.token, .wrongAudience, by: service)
    }

    /// A token verified once is answered from memory until it expires; the memory never widens
    /// what is accepted: a changed token is checked in full, an expired one is refused.
    @Test func aVerifiedTokenIsRememberedOnlyUntilItExpires() async throws {
        let service = try await makeService()
        let issued = try await service.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        #expect(try await service.verify(issued.token, now: Self.now) == issued.claims)
        #expect(try await service.verify(issued.token, now: Self.now.addingTimeInterval(60)) == issued.claims)
        var tampered = Array(issued.token)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
        await expectRejected(String(tampered), .invalidSignature, by: service)
        await expectRejected(issued.token, .expired, by: service, at: Self.now.addingTimeInterval(900 + 5))
    }

    @Test func expiredTokenIsRejected() async throws {
        let service = try await makeService()
        let issued = try await service.issue(
            subject: "u", clientID: "c", scope: [], now: Self.now.addingTimeInterval(-3600))
        await expectRejected(issued.token, .expired, by: service)
    }

    /// Leeway is exactly `clockLeeway` (5 s) past `exp`, no more.
    @Test func expiryLeewayBoundary() async throws {
        let service = try await makeService()
        #expect(AccessTokenService.clockLeeway == .seconds(5))
        let issued = try await service.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        let exp = issued.claims.expiresAt
        _ = try await service.verify(issued.token, now: exp.addingTimeInterval(4.999))
        await expectRejected(issued.token, .expired, by: service, at: exp.addingTimeInterval(5))
    }

    @Test(arguments: ["iat", "exp", "jti", "sub"])
    func missingRequiredClaimIsMalformed(claim: String) async throws {
        let service = try await makeService()
        var payload = validPayload()
        payload.removeValue(forKey: claim)
        let token = try craft(
            header: ["alg": "EdDSA", "typ": "JWT", "kid": service.keyID], payload: payload, signer: ourSignature)
        await expectRejected(token, .malformed, by: service)
    }

    @Test func audienceArrayIsMalformed() async throws {
        let service = try await makeService()
        var payload = validPayload()
        payload["aud"] = [Self.audience]
        let token = try craft(
            header: ["alg": "EdDSA", "typ": "JWT", "kid": service.keyID], payload: payload, signer: ourSignature)
        await expectRejected(token, .malformed, by: service)
    }

    // MARK: - Garbage

    @Test(arguments: [
        "", "a.b", "a.b.c", "a.b.c.d", "..", "...", "not a token",
        "eyJhbGciOiJFZERTQSJ9", "eyJhbGciOiJFZERTQSJ9..sig", "!!!.@@@.###",
        "bm90IGpzb24.e30.", // header is base64url of "not json"
        "W10.e30.", // header is a JSON array
    ])
    func garbageIsMalformed(token: String) async throws {
        let service = try await makeService()
        await expectRejected(token, .malformed, by: service)
    }

    @Test func randomBytesAreMalformed() async throws {
        let service = try await makeService()
        for _ in 0..<50 {
            let bytes = (0..<Int.random(in: 0...120)).map { _ in UInt8.random(in: 0x20...0x7e) }
            await expectRejected(String(decoding: bytes, as: UTF8.self), .malformed, by: service)
        }
    }

    @Test func oversizedTokenIsMalformed() async throws {
        let service = try await makeService()
        var payload = validPayload()
        payload["pad"] = String(repeating: "x", count: 9000)
        let token = try craft(
            header: ["alg": "EdDSA", "typ": "JWT", "kid": service.keyID], payload: payload, signer: ourSignature)
        await expectRejected(token, .malformed, by: service)
    }

    // MARK: - Configuration and hygiene

    @Test func refusesUnusableConfiguration() async throws {
        await #expect(throws: AccessTokenError.self) {
            _ = try await AccessTokenService(
                keyMaterial: Array("too short".utf8), issuer: Self.issuer, audience: Self.audience, lifetime: .seconds(60))
        }
        await #expect(throws: AccessTokenError.self) {
            _ = try await AccessTokenService(
                keyMaterial: Self.keyMaterial, issuer: Self.issuer, audience: Self.audience, lifetime: .milliseconds(500))
        }
        await #expect(throws: AccessTokenError.invalidClaim("scope")) {
            _ = try await makeService().issue(subject: "u", clientID: "c", scope: ["a b"], now: Self.now)
        }
    }

    @Test func descriptionsNeverContainSecrets() async throws {
        let service = try await makeService()
        let issued = try await service.issue(subject: "u", clientID: "c", scope: [], now: Self.now)
        let signature = String(try #require(issued.token.split(separator: ".").last))
        let keyText = String(decoding: Self.keyMaterial, as: UTF8.self)

        for text in ["\(issued)", String(reflecting: issued), "\(service)", String(reflecting: service)] {
            #expect(!text.contains(signature))
            #expect(!text.contains(keyText))
        }
        var dumped = ""
        dump(service, to: &dumped)
        #expect(!dumped.contains(keyText))
        #expect(!dumped.contains("JWTKeyCollection"))

        do {
            _ = try await service.verify(issued.token + "x", now: Self.now)
            Issue.record("tampered token accepted")
        } catch {
            #expect(!"\(error)".contains(signature))
        }
    }

    // MARK: - Helpers

    /// Independent re-derivation of the service's key, to sign hand-crafted tokens.
    static func ourSigningKey() throws -> Curve25519.Signing.PrivateKey {
        let seed = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: keyMaterial),
            salt: Array("gateway access-token hkdf salt v1".utf8),
            info: Array("gateway access-token signing key v1".utf8),
            outputByteCount: 32)
        return try seed.withUnsafeBytes { try Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
    }

    func ourSignature(_ input: Data) throws -> Data {
        try Self.ourSigningKey().signature(for: input)
    }

    func validPayload() -> [String: Any] {
        let iat = Int(Self.now.timeIntervalSince1970)
        return [
            "iss": Self.issuer, "aud": Self.audience, "sub": "user-1", "client_id": "client-1",
            "scope": "a b", "iat": iat, "exp": iat + 900, "jti": UUID().uuidString,
        ]
    }

    func craft(header: [String: Any], payload: [String: Any], signer: (Data) throws -> Data) throws -> String {
        let signingInput = "\(base64url(try json(header))).\(base64url(try json(payload)))"
        return "\(signingInput).\(base64url(try signer(Data(signingInput.utf8))))"
    }

    func json(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    func jsonObject(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func segment(_ token: String, _ index: Int) throws -> Data {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return try #require(base64urlDecode(String(parts[index])))
    }

    func base64url(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    func base64urlDecode(_ text: String) -> Data? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard)
    }
}
