import Crypto
import Foundation

/// RFC 7636 with S256 only: `plain` would let anyone who sees the authorization request redeem the code.
package enum PKCE {
    static let allowedCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// A challenge is base64url(SHA-256(verifier)): exactly 43 characters.
    package static func isWellFormedChallenge(_ challenge: String) -> Bool {
        challenge.count == 43 && challenge.allSatisfy { allowedCharacters.contains($0) && $0 != "." && $0 != "~" }
    }

    package static func isWellFormedVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.count) && verifier.allSatisfy(allowedCharacters.contains)
    }

    package static func challenge(for verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64URLEncodedString()
    }

    package static func verify(verifier: String, challenge: String) -> Bool {
        isWellFormedVerifier(verifier) && OpaqueToken.constantTimeEquals(Self.challenge(for: verifier), challenge)
    }
}
