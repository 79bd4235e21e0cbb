import Foundation
import JWTKit

/// The verified contents of an access token.
package struct AccessTokenClaims: Sendable, Hashable {
    /// `iss`
    package var issuer: String
    /// `aud`
    package var audience: String
    /// `sub`: the user id.
    package var subject: String
    /// `client_id`: the OAuth client the token was issued to.
    package var clientID: String
    /// `scope`, split on spaces.
    package var scope: [String]
    /// `iat`, whole seconds.
    package var issuedAt: Date
    /// `exp`, whole seconds.
    package var expiresAt: Date
    /// `jti`: unique per token, usable as a revocation/deny-list key.
    package var tokenID: String
    /// `sid`: the sign-in (refresh token family) the token was issued under; nil for tokens
    /// from before the claim existed.
    package var familyID: String?

    package init(
        issuer: String, audience: String, subject: String, clientID: String, scope: [String],
        issuedAt: Date, expiresAt: Date, tokenID: String, familyID: String? = nil
    ) {
        self.issuer = issuer
        self.audience = audience
        self.subject = subject
        self.clientID = clientID
        self.scope = scope
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
        self.familyID = familyID
    }
}

/// A freshly signed access token, ready for a token-endpoint response.
package struct IssuedAccessToken: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The compact JWS. A bearer credential: never log it.
    package let token: String
    package let claims: AccessTokenClaims
    /// Seconds until expiry, for the `expires_in` response field.
    package let expiresIn: Int

    // Redacted so interpolating the value into a log line cannot leak the bearer token.
    package var description: String {
        "IssuedAccessToken(jti: \(claims.tokenID), expiresIn: \(expiresIn), token: <redacted>)"
    }

    package var debugDescription: String { description }
}

/// The JWT payload exactly as it goes over the wire.
///
/// Every field but `sid` is required, so a token missing `iat` or `exp` fails to decode
/// (`.malformed`).
/// Times are integer NumericDates; `aud` is a single string because that is all we issue.
struct AccessTokenPayload: JWTPayload, Equatable {
    var issuer: String
    var audience: String
    var subject: String
    var clientID: String
    var scope: String
    var issuedAt: Int
    var expiresAt: Int
    var tokenID: String
    var familyID: String?

    enum CodingKeys: String, CodingKey {
        case issuer = "iss"
        case audience = "aud"
        case subject = "sub"
        case clientID = "client_id"
        case scope
        case issuedAt = "iat"
        case expiresAt = "exp"
        case tokenID = "jti"
        case familyID = "sid"
    }

    // Deliberately empty: issuer, audience and expiry are checked by `AccessTokenService.verify`,
    // which has the expected values and an injectable clock that jwt-kit's hook lacks.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    var claims: AccessTokenClaims {
        AccessTokenClaims(
            issuer: issuer,
            audience: audience,
            subject: subject,
            clientID: clientID,
            scope: scope.split(separator: " ", omittingEmptySubsequences: true).map(String.init),
            issuedAt: Date(timeIntervalSince1970: TimeInterval(issuedAt)),
            expiresAt: Date(timeIntervalSince1970: TimeInterval(expiresAt)),
            tokenID: tokenID,
            familyID: familyID
        )
    }
}
