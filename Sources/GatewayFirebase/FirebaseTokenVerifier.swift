import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import JWTKit

/// Checks a Firebase ID token by Google's documented rules ("Verify ID tokens using a
/// third-party JWT library") and a few stricter ones, then applies the gateway's policy:
///
/// - header `alg` exactly RS256 with a `kid` Google publishes;
/// - `aud` the project id, `iss` `https://securetoken.google.com/<project id>`, `sub` (the uid)
///   1 to 128 characters, `exp` in the future and `iat` not in the future (60 s leeway);
/// - stricter than the Admin SDKs: `auth_time` not in the future and at most
///   `FIREBASE_AUTH_MAX_AGE` old, so an old stolen token cannot start a new sign-in;
/// - policy: no anonymous sign-ins, tenants only when `FIREBASE_TENANT_ID` names them, verified
///   email for email/password accounts (anyone can create one for any address) and for
///   email-domain rules.
package struct FirebaseTokenVerifier: Sendable {
    package static let leeway: TimeInterval = 60
    let settings: FirebaseSettings
    let certificates: FirebaseCertificates

    package init(settings: FirebaseSettings, certificates: FirebaseCertificates) {
        self.settings = settings
        self.certificates = certificates
    }

    var issuer: String { "https://securetoken.google.com/\(settings.projectID)" }

    /// The person the token is about, or why not.
    package func person(from token: String, now: Date = Date()) async throws(SignInError) -> SignedInPerson {
        let header = try Self.header(of: token)
        guard header["alg"] as? String == "RS256", let kid = header["kid"] as? String, !kid.isEmpty else {
            throw .refused("The sign-in token is not signed the way Firebase signs (RS256 with a key id).")
        }
        let key = try await certificates.key(kid)
        let claims: FirebaseClaims
        do {
            let keys = JWTKeyCollection()
            await keys.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
            claims = try await keys.verify(token, as: FirebaseClaims.self)
        } catch {
            throw .refused("The sign-in token could not be verified (bad signature or malformed claims).")
        }
        try check(claims, now: now)
        // Without a name or email, the uid, made displayable like any name (at most 64
        // characters, no hidden characters): others see it.
        let name =
            [claims.name, claims.email, claims.sub].compactMap { $0 }.map(SignedInPerson.displayable).first { !$0.isEmpty }
            ?? "Firebase user"
        return SignedInPerson(identity: Identity(provider: "firebase:\(settings.projectID)", subject: claims.sub), displayName: name)
    }

    func check(_ claims: FirebaseClaims, now: Date) throws(SignInError) {
        let now = now.timeIntervalSince1970
        guard claims.aud == settings.projectID, claims.iss == issuer else {
            throw .refused("The sign-in token belongs to another Firebase project.")
        }
        guard (1...128).contains(claims.sub.count) else { throw .refused("The sign-in token does not name a valid user.") }
        guard now < claims.exp + Self.leeway else { throw .refused("The sign-in token expired; sign in again.") }
        guard claims.iat <= now + Self.leeway else {
            throw .refused("The sign-in token claims to be issued in the future. Check that this server's clock is right.")
        }
        guard let authTime = claims.authTime else { throw .refused("The sign-in token does not say when the person signed in.") }
        guard authTime <= now + Self.leeway else {
            throw .refused("The sign-in token claims a sign-in in the future. Check that this server's clock is right.")
        }
        guard now - authTime <= Double(settings.authMaxAge.components.seconds) + Self.leeway else {
            throw .refused("This Firebase sign-in is too old to start a new session; sign in again.")
        }
        let tenant = claims.firebase?.tenant
        guard tenant == settings.tenantID else {
            throw .refused(
                tenant == nil ? "Sign in through this gateway's Identity Platform tenant." : "The sign-in token belongs to another tenant.")
        }
        let provider = claims.firebase?.signInProvider ?? ""
        guard provider != "anonymous" else { throw .refused("Anonymous sign-in is not accepted on this gateway.") }
        let verified = claims.emailVerified == true
        if provider == "password", settings.requireVerifiedEmail, !verified {
            throw .refused("Verify your email address with Firebase first (check your inbox), then sign in again.")
        }
        if !settings.allowedEmailDomains.isEmpty {
            guard let email = claims.email, email.contains("@"), let domain = email.split(separator: "@").last?.lowercased(),
                settings.allowedEmailDomains.contains(domain)
            else { throw .refused("Your account's email address is not in a domain allowed on this gateway.") }
            guard verified else { throw .refused("Your email address is not verified, so this gateway cannot check its domain.") }
        }
    }

    static func header(of token: String) throws(SignInError) -> [String: Any] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        var text = parts.first.map(String.init) ?? ""
        text = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard parts.count == 3, let data = Data(base64Encoded: text),
            let header = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw .refused("The sign-in token is not a valid token.") }
        return header
    }
}

/// The claims of a Firebase ID token the gateway reads.
struct FirebaseClaims: JWTPayload {
    struct Firebase: Codable {
        let signInProvider: String?
        let tenant: String?

        enum CodingKeys: String, CodingKey {
            case signInProvider = "sign_in_provider"
            case tenant
        }
    }

    let iss: String
    let aud: String
    let sub: String
    let exp: Double
    let iat: Double
    let authTime: Double?
    let email: String?
    let emailVerified: Bool?
    let name: String?
    let firebase: Firebase?

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, exp, iat, email, name, firebase
        case authTime = "auth_time"
        case emailVerified = "email_verified"
    }

    /// Checked by `FirebaseTokenVerifier.check` with its leeway.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
