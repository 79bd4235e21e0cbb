import Crypto
import Foundation

/// Anti-forgery tokens for the gateway's own forms (sign-in, device approval).
///
/// A token is an HMAC of the browser's id (an httpOnly cookie) under a key every replica derives
/// from `JWT_SIGNING_KEY`. A form is accepted only with the token of the browser that sends it,
/// so a pair of values made up elsewhere (a forged form plus a cookie planted by a sibling
/// subdomain) is refused: nobody without the key can compute a token.
package struct FormTokens: Sendable {
    private let key: SymmetricKey

    package init(keyMaterial: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: keyMaterial), salt: Data("agent-gateway form tokens".utf8),
            info: Data("csrf v1".utf8), outputByteCount: 32)
    }

    /// The token of the browser with this id.
    package func token(forBrowser browserID: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(browserID.utf8), using: key)).base64URLEncodedString()
    }

    /// Whether `submitted` is this browser's token (constant time).
    package func isValid(_ submitted: String, forBrowser browserID: String) -> Bool {
        OpaqueToken.constantTimeEquals(submitted, token(forBrowser: browserID))
    }
}
