import Foundation
import GatewayAuth
import GatewayConfig
import Logging

/// `AUTH_MODE=firebase`: a form connector whose page signs the person in with Firebase
/// Authentication in the browser (Google through the SDK's popup, email and password through
/// Identity Toolkit's REST call) and posts the resulting ID token, which the gateway verifies
/// (`FirebaseTokenVerifier`) before it finishes the sign-in as in every other mode.
package struct FirebaseConnector: FormConnector {
    package let mode = AuthMode.firebase
    package let isNonProduction = false
    /// The pinned Firebase JS SDK (modular build) the page loads from gstatic.
    package static let sdkVersion = "10.12.2"
    package static let scriptPath = "/assets/web/firebase-sign-in.js"

    let settings: FirebaseSettings
    /// `FIREBASE_AUTH_EMULATOR_HOST`: where the page sends email/password sign-ins instead of
    /// Google (Firebase's own SDKs follow the same variable); tokens are verified as always.
    let emulatorHost: String?
    package let certificates: FirebaseCertificates
    let verifier: FirebaseTokenVerifier

    package init(settings: FirebaseSettings, logger: Logger) {
        self.settings = settings
        self.emulatorHost = settings.authEmulatorHost
        self.certificates = FirebaseCertificates(url: settings.certificatesURL, logger: logger)
        self.verifier = FirebaseTokenVerifier(settings: settings, certificates: certificates)
    }

    package func identify(_ submission: SignInSubmission) async throws(SignInError) -> SignedInPerson {
        guard let token = submission.fields["id_token"], !token.isEmpty, token.utf8.count <= 16 * 1024 else {
            throw .refused("Sign in with one of the methods above first.")
        }
        return try await verifier.person(from: token)
    }

    package var page: SignInPage {
        let providers = Set(settings.signInProviders)
        let configuration: [String: Any] = [
            "apiKey": settings.apiKey, "authDomain": settings.authDomain, "projectId": settings.projectID,
            "tenantId": settings.tenantID ?? NSNull(), "emulatorHost": emulatorHost ?? NSNull(), "sdkVersion": Self.sdkVersion,
            "providers": settings.signInProviders,
        ]
        let json =
            (try? JSONSerialization.data(withJSONObject: configuration, options: .sortedKeys)).map { String(decoding: $0, as: UTF8.self) }
            ?? "{}"
        var markup = #"<div id="firebase-sign-in" data-settings="\#(Self.escape(json))">"#
        if providers.contains("google") {
            markup += #"<button type="button" id="firebase-google">Continue with Google</button>"#
        }
        if providers.contains("password") {
            markup += """
                <label for="firebase-email">Email</label>
                <input id="firebase-email" type="email" autocomplete="username">
                <label for="firebase-password">Password</label>
                <input id="firebase-password" type="password" autocomplete="current-password">
                <button type="button" id="firebase-password-sign-in">Sign in with email</button>
                """
        }
        markup += #"<p class="error" id="firebase-error" role="alert" hidden></p>"#
        markup += "<noscript><p class=\"error\">Firebase sign-in needs JavaScript.</p></noscript></div>"
        let identityToolkit = emulatorHost.map { "http://\($0)" } ?? "https://identitytoolkit.googleapis.com"
        return .script(
            SignInScript(
                markup: markup, scriptPath: Self.scriptPath, resultField: "id_token",
                contentSecurityPolicy: [
                    "script-src": ["https://www.gstatic.com", "https://apis.google.com"],
                    "connect-src": [identityToolkit, "https://securetoken.googleapis.com", "https://www.googleapis.com"],
                    "frame-src": ["https://\(settings.authDomain)"],
                ]))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}

extension FirebaseConnector {
    /// `AUTH_MODE=firebase`: warns at start-up about settings meant for tests and local work, and
    /// closes the certificate fetcher's HTTP client at shutdown.
    package static let definition = ConnectorDefinition(configuration: FirebaseSettings.configuration, make: plugin)

    static let plugin: ConnectorPlugin.Factory = { configuration, logger in
        let settings = try ConnectorDefinition.settings(FirebaseSettings.self, in: configuration)
        let connector = FirebaseConnector(settings: settings, logger: logger)
        let certificates = connector.certificates
        var plugin = ConnectorPlugin(.form(connector))
        plugin.background = [
            .init(name: "firebase certificates") {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                await certificates.shutdown()
            }
        ]
        if settings.certificatesURL != FirebaseSettings.googleCertificatesURL {
            plugin.notices.append(
                .init(
                    .warning,
                    "FIREBASE_CERTIFICATES_URL is not Google's: ID tokens are checked against another party's keys; for tests only",
                    event: "gateway.firebase_certificates_override", metadata: ["url": settings.certificatesURL]))
        }
        if let host = settings.authEmulatorHost {
            plugin.notices.append(
                .init(
                    .warning,
                    "FIREBASE_AUTH_EMULATOR_HOST is set: the sign-in page sends passwords to \(host), not to Google; for local development only",
                    event: "gateway.firebase_emulator", metadata: ["host": host]))
        }
        return plugin
    }
}
