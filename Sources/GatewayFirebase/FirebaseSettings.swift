import Foundation
import GatewayConfig

extension AuthMode {
    package static let firebase = AuthMode(rawValue: "firebase")
}

/// `AUTH_MODE=firebase`'s settings and variables.
package struct FirebaseSettings: Sendable, Equatable {
    /// Google's published certificates for Firebase ID tokens.
    package static let googleCertificatesURL =
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"

    package var projectID: String
    package var apiKey: String
    package var authDomain: String
    package var signInProviders: [String]
    /// The longest time since the person signed in at Firebase (`auth_time`) the gateway accepts.
    package var authMaxAge: Duration
    package var tenantID: String?
    /// Lowercased; empty allows every domain.
    package var allowedEmailDomains: [String]
    package var requireVerifiedEmail: Bool
    package var certificatesURL: String
    /// Local development: where the page sends email/password sign-ins instead of Google.
    package var authEmulatorHost: String?

    package init(
        projectID: String, apiKey: String, authDomain: String, signInProviders: [String] = ["google", "password"],
        authMaxAge: Duration = .seconds(300), tenantID: String? = nil, allowedEmailDomains: [String] = [],
        requireVerifiedEmail: Bool = true, certificatesURL: String = FirebaseSettings.googleCertificatesURL,
        authEmulatorHost: String? = nil
    ) {
        self.authEmulatorHost = authEmulatorHost
        self.projectID = projectID
        self.apiKey = apiKey
        self.authDomain = authDomain
        self.signInProviders = signInProviders
        self.authMaxAge = authMaxAge
        self.tenantID = tenantID
        self.allowedEmailDomains = allowedEmailDomains
        self.requireVerifiedEmail = requireVerifiedEmail
        self.certificatesURL = certificatesURL
    }

    package static let configuration = ConnectorConfiguration(
        mode: .firebase,
        variables: [
            .firebaseProjectID, .firebaseAPIKey, .firebaseAuthDomain, .firebaseSignInProviders, .firebaseAuthMaxAge,
            .firebaseTenantID, .firebaseAllowedEmailDomains, .firebaseRequireVerifiedEmail, .firebaseCertificatesURL,
            .firebaseAuthEmulatorHost,
        ]
    ) { reader in
        FirebaseSettings(reading: &reader)
    }

    init?(reading reader: inout ConfigurationReader) {
        let projectID = reader.required(.firebaseProjectID)
        let apiKey = reader.required(.firebaseAPIKey)
        let authDomain = reader.required(.firebaseAuthDomain)
        let providers = reader.list(.firebaseSignInProviders).map { $0.lowercased() }
        let known: Set = ["google", "password", "github", "microsoft", "apple", "facebook", "twitter", "yahoo"]
        if let unknown = providers.first(where: { !known.contains($0) }) {
            reader.problem(
                .firebaseSignInProviders, "\"\(unknown)\" is not a sign-in method; use \(known.sorted().joined(separator: ", "))")
        }
        let certificatesURL = reader.value(.firebaseCertificatesURL) ?? Self.googleCertificatesURL
        if URLComponents(string: certificatesURL)?.host == nil {
            reader.problem(.firebaseCertificatesURL, "\(reader.quoted(.firebaseCertificatesURL, certificatesURL)) is not a URL")
        }
        let maxAge = reader.duration(.firebaseAuthMaxAge) ?? .seconds(300)
        let emulatorHost = reader.value(.firebaseAuthEmulatorHost)
        if let emulatorHost, emulatorHost.contains("/") || emulatorHost.contains(" ") {
            reader.problem(
                .firebaseAuthEmulatorHost,
                "\(reader.quoted(.firebaseAuthEmulatorHost, emulatorHost)) must be host:port, without a scheme")
        }
        let requireVerified = reader.boolean(.firebaseRequireVerifiedEmail) ?? true
        guard let projectID, let apiKey, let authDomain else { return nil }
        self.init(
            projectID: projectID, apiKey: apiKey, authDomain: authDomain,
            signInProviders: providers.isEmpty ? ["google", "password"] : providers, authMaxAge: maxAge,
            tenantID: reader.value(.firebaseTenantID),
            allowedEmailDomains: reader.list(.firebaseAllowedEmailDomains).map { $0.lowercased() },
            requireVerifiedEmail: requireVerified, certificatesURL: certificatesURL, authEmulatorHost: emulatorHost)
    }
}

extension ConfigurationVariable {
    package static let firebaseProjectID = ConfigurationVariable(
        "FIREBASE_PROJECT_ID", .requiredWithAuthMode(.firebase), example: "my-project",
        "Firebase project id (the `aud` of Firebase ID tokens).")
    package static let firebaseAPIKey = ConfigurationVariable(
        "FIREBASE_API_KEY", .requiredWithAuthMode(.firebase), example: "AIzaSy…",
        "Firebase web API key used by the sign-in page.")
    package static let firebaseAuthDomain = ConfigurationVariable(
        "FIREBASE_AUTH_DOMAIN", .requiredWithAuthMode(.firebase), example: "my-project.firebaseapp.com",
        "Firebase auth domain used by the sign-in page.")
    package static let firebaseSignInProviders = ConfigurationVariable(
        "FIREBASE_SIGNIN_PROVIDERS", .optional, default: "google,password", example: "google,password",
        "Comma-separated sign-in methods the page offers: google, password (others as enabled in the Firebase project).")
    package static let firebaseAuthMaxAge = ConfigurationVariable(
        "FIREBASE_AUTH_MAX_AGE", .optional, default: "5m", example: "5m",
        "How recent the person's Firebase sign-in (auth_time) must be for the gateway to accept its ID token.")
    package static let firebaseTenantID = ConfigurationVariable(
        "FIREBASE_TENANT_ID", .optional, example: "tenant-1a2b3",
        "Identity Platform tenant whose tokens are accepted; tokens of any tenant are refused when unset.")
    package static let firebaseAllowedEmailDomains = ConfigurationVariable(
        "FIREBASE_ALLOWED_EMAIL_DOMAINS", .optional, default: "", example: "example.com",
        "Comma-separated email domains allowed to sign in (verified emails only); empty allows every domain.")
    package static let firebaseRequireVerifiedEmail = ConfigurationVariable(
        "FIREBASE_REQUIRE_VERIFIED_EMAIL", .optional, default: "true", example: "false",
        "Refuse email/password accounts whose address is not verified (anyone can create an account for any address).")
    package static let firebaseCertificatesURL = ConfigurationVariable(
        "FIREBASE_CERTIFICATES_URL", .optional,
        default: "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com",
        example: "http://127.0.0.1:9099/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com",
        "Where Firebase ID token signing certificates are fetched; anything but Google's URL is for tests and logs a warning.")
    package static let firebaseAuthEmulatorHost = ConfigurationVariable(
        "FIREBASE_AUTH_EMULATOR_HOST", .optional, example: "127.0.0.1:9099",
        "Local development only: the sign-in page sends email/password sign-ins to this host instead of Google (tokens are still verified); logs a warning."
    )
}
