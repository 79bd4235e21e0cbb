import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import X509

/// A local stand-in for the Google services a Firebase sign-in touches, on a machine that cannot
/// reach Google: the certificate document Firebase ID tokens are verified with (Google's exact
/// format: a JSON object of key id to X.509 PEM, with `Cache-Control: max-age`), and tokens
/// signed like Firebase's (RS256, `kid`), with whatever claims a test asks for.
package final class TestFirebase: Sendable {
    package static let certificatesPath = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"

    package enum Answer: Sendable, Equatable {
        case certificates
        case serverError
        /// Holds the request longer than the gateway waits.
        case hang
    }

    struct Key {
        let kid: String
        let privateKey: _RSA.Signing.PrivateKey
        let certificatePEM: String
    }

    struct State {
        var keys: [Key]
        var maxAge = 3600
        var answer = Answer.certificates
        var fetches = 0
    }

    package let projectID: String
    package let port: Int
    private let state: NIOLockedValueBox<State>
    private let task: NIOLockedValueBox<Task<Void, any Error>?> = .init(nil)

    package var certificatesURL: String { "http://127.0.0.1:\(port)\(Self.certificatesPath)" }
    package var issuer: String { "https://securetoken.google.com/\(projectID)" }

    package init(projectID: String = "gateway-test-project") throws {
        self.projectID = projectID
        self.port = try freeLoopbackPort()
        self.state = .init(State(keys: [try Self.makeKey()]))
    }

    /// How the certificate document answers from now on.
    package func answer(_ answer: Answer, maxAge: Int? = nil) {
        state.withLockedValue {
            $0.answer = answer
            if let maxAge { $0.maxAge = maxAge }
        }
    }

    package var fetches: Int { state.withLockedValue { $0.fetches } }
    package var currentKeyID: String { state.withLockedValue { $0.keys.last!.kid } }

    /// A new signing key; the document lists it (and drops the old one unless `keepOld`).
    package func rotate(keepOld: Bool = false) throws {
        let key = try Self.makeKey()
        state.withLockedValue { $0.keys = (keepOld ? $0.keys : []) + [key] }
    }

    package func start() async throws {
        let router = Router()
        router.get(RouterPath(Self.certificatesPath)) { _, _ in try await self.certificates() }
        let running = try await TestOpenIDProvider.serve(router, port: port)
        task.withLockedValue { $0 = running }
    }

    package func stop() async {
        let running = task.withLockedValue { task in
            defer { task = nil }
            return task
        }
        running?.cancel()
        _ = await running?.result
    }

    func certificates() async throws -> Response {
        let (answer, keys, maxAge) = state.withLockedValue {
            $0.fetches += 1
            return ($0.answer, $0.keys, $0.maxAge)
        }
        switch answer {
        case .serverError: return Response(status: .internalServerError)
        case .hang:
            try await Task.sleep(for: .seconds(30))
            return Response(status: .gatewayTimeout)
        case .certificates:
            let document = Dictionary(uniqueKeysWithValues: keys.map { ($0.kid, $0.certificatePEM) })
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/json; charset=UTF-8",
                    .cacheControl: "public, max-age=\(maxAge), must-revalidate, no-transform",
                ],
                body: .init(byteBuffer: ByteBuffer(data: try JSONSerialization.data(withJSONObject: document, options: .sortedKeys))))
        }
    }

    // MARK: Tokens

    /// The claims of a fresh, valid token for `uid` (password sign-in, verified email).
    package func claims(uid: String = "firebase-user-1", now: Date = Date()) -> [String: TestOpenIDProvider.Claim] {
        let seconds = now.timeIntervalSince1970.rounded(.down)
        return [
            "iss": .string(issuer), "aud": .string(projectID), "sub": .string(uid), "user_id": .string(uid),
            "iat": .number(seconds), "exp": .number(seconds + 3600), "auth_time": .number(seconds - 10),
            "email": .string("\(uid)@example.com"), "email_verified": .bool(true), "name": .string("Fire Base"),
        ]
    }

    /// A token with `claims` plus `firebase.sign_in_provider` (and `firebase.tenant`), signed
    /// with the current key unless told otherwise.
    package func token(
        _ claims: [String: TestOpenIDProvider.Claim], signInProvider: String = "password", tenant: String? = nil,
        algorithm: TestOpenIDProvider.Algorithm = .rs256, kid: String? = nil
    ) throws -> String {
        let key = state.withLockedValue { $0.keys.last! }
        var payload: [String: Any] = [:]
        TestOpenIDProvider.apply(claims, to: &payload)
        var firebase: [String: Any] = ["sign_in_provider": signInProvider, "identities": [:] as [String: Any]]
        if let tenant { firebase["tenant"] = tenant }
        payload["firebase"] = firebase
        return try TestOpenIDProvider.signedToken(payload, key: key.privateKey, kid: kid ?? key.kid, algorithm: algorithm)
    }

    static func makeKey() throws -> Key {
        let privateKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let certificateKey = Certificate.PrivateKey(privateKey)
        let name = try DistinguishedName { CommonName("securetoken.system.gserviceaccount.com") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: certificateKey.publicKey, notValidBefore: now - 3600,
            notValidAfter: now + 86400 * 2, issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: Certificate.Extensions(), issuerPrivateKey: certificateKey)
        let pem = try certificate.serializeAsPEM().pemString
        return Key(
            kid: Insecure.SHA1.hash(data: Data(pem.utf8)).map { String(format: "%02x", $0) }.joined(), privateKey: privateKey,
            certificatePEM: pem)
    }
}
