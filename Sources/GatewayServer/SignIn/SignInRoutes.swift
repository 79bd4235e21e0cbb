import Foundation
import GatewayAuth
import GatewayConfig
import GatewayEphemeral
import GatewayStore
import GatewayWeb
import Hummingbird
import Logging

/// The pages a person signs in on, one file per step:
/// - AuthorizeStep: `/oauth/authorize`, for an application;
/// - DeviceStep: `/device`, to approve a device code (RFC 8628);
/// - RedirectStep: a redirect connector's round trip to its identity provider;
/// - ConsentStep: `/oauth/consent`, a third-party client after an identity provider;
/// - FinishStep: the one step every path ends in, whatever the connector.
/// The pages themselves are GatewayWeb's templates (`SignInPages`); the browser's cookies and
/// form tokens are `BrowserSession`'s.
struct SignInRoutes: Sendable {
    let server: AuthorizationServer
    let connector: SignInConnector
    let pendingSignIns: PendingSignIns
    let limiter: AbuseLimiter
    let browsers: BrowserSession
    let store: GatewayStore
    /// Where a consent waits for its answer (any replica may get it).
    let ephemeral: any EphemeralStore
    let configuration: GatewayConfiguration
    let logger: Logger

    var base: String { configuration.publicBaseURL }
    var nonProduction: Bool { connector.isNonProduction }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/oauth/authorize") { request, context in try await authorize(request, context) }
        router.post("/oauth/authorize") { request, context in try await submitSignIn(request, context) }
        router.post("/oauth/consent") { request, _ in try await submitConsent(request) }
        router.get("/device") { request, context in try await devicePage(request, context) }
        router.post("/device") { request, context in try await submitDevice(request, context) }
        if case .redirect(let redirect) = connector {
            router.get(RouterPath(redirect.callbackPath)) { request, context in try await callback(request, context, redirect) }
        }
    }

    // MARK: What every step shows

    /// The connector's inputs (or script) and the button that submits them.
    func controls(allow label: String) -> (SignInPages.Controls, extraSources: [String: [String]]) {
        switch connector {
        case .form(let form):
            switch form.page {
            case .fields(let fields, let notice):
                let inputs = fields.enumerated().map { index, field in
                    SignInPages.Field(
                        name: field.name, label: field.label, type: field.kind.rawValue, maxLength: field.maximumLength,
                        autocomplete: field.autocomplete, autofocus: index == 0)
                }
                return (SignInPages.Controls(fields: inputs, allowLabel: label, notice: notice), [:])
            case .script(let script):
                var sources = script.contentSecurityPolicy
                sources["script-src", default: []].insert("'self'", at: 0)
                sources["connect-src", default: []].insert("'self'", at: 0)
                let page = SignInPages.Script(resultField: script.resultField, markup: script.markup, path: script.scriptPath)
                return (SignInPages.Controls(script: page, allowLabel: nil), sources)
            }
        case .redirect(let redirect):
            return (SignInPages.Controls(allowLabel: "Continue with \(redirect.providerName) and allow"), [:])
        }
    }

    /// Who is asking. A third-party client's name is its own claim, so it is shown as such,
    /// with the host the browser will be sent back to (the one fact the gateway checks).
    func clientStatement(_ client: OAuthClient, redirectURI: String) -> SignInPages.ClientStatement {
        guard client.isThirdParty else { return .init(name: client.name, base: base, thirdParty: nil) }
        // Third-party redirects were checked when the client declared them: ASCII only, a DNS
        // name or IP literal, or a reverse-domain app scheme (RedirectTarget).
        let target = RedirectTarget(redirectURI)
        let appScheme: String? =
            if case .app(let scheme)? = target?.kind { scheme } else { nil }
        let thirdParty = SignInPages.ThirdParty(
            describedBy: client.origin == .metadataDocument ? client.id : nil, appScheme: appScheme,
            host: target?.shownAs ?? redirectURI, internationalized: target?.isInternationalizedHost == true)
        return .init(name: client.name, base: base, thirdParty: thirdParty)
    }

    func errorPage(_ message: String, status: HTTPResponse.Status) -> Response {
        SignInPages.Message("Sign-in problem", message).response(nonProduction: nonProduction, status: status)
    }

    func expiredRequestPage() -> Response {
        errorPage("This sign-in request expired or was already used. Start again from the application.", status: .badRequest)
    }

    func rateLimitedPage(_ error: OAuthError) -> Response {
        let seconds = error.retryAfterSeconds ?? 60
        var response = SignInPages.Message("Too many attempts", "Please wait \(seconds) seconds and try again.")
            .response(nonProduction: nonProduction, status: .tooManyRequests)
        response.headers[.retryAfter] = String(seconds)
        return response
    }

    func signInFailurePage(_ error: SignInError) -> Response {
        switch error {
        case .disabled:
            return SignInPages.Message(
                "Sign-in is switched off",
                "The operator of this gateway has turned demo sign-in off. Ask them to turn it back on (DEMO_SIGNIN_ENABLED) or to configure a production sign-in mode."
            ).response(nonProduction: nonProduction, status: .forbidden)
        case .refused(let message):
            return errorPage(message, status: .forbidden)
        case .providerUnavailable(let message):
            return SignInPages.Message("Identity provider unreachable", message, "Try again in a minute.")
                .response(nonProduction: nonProduction, status: .serviceUnavailable)
        case .declined:
            return errorPage("The sign-in was cancelled.", status: .forbidden)
        }
    }

    func redirect(to location: String) -> Response {
        Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }

    var providerName: String {
        switch connector {
        case .form: connector.mode.rawValue
        case .redirect(let redirect): redirect.providerName
        }
    }

    func logSignIn(user: User, client: String) {
        logger.notice(
            "\(connector.mode.rawValue) sign-in",
            metadata: [
                "event": "auth.signin", "auth_mode": .string(connector.mode.rawValue), "user_id": .string(user.id),
                "client_id": .string(client), "non_production": .stringConvertible(nonProduction),
            ])
    }

    /// The CSP source that admits exactly the redirect's origin, built from its checked ASCII
    /// form (`RedirectTarget`): scheme and host lowercased (`HTTP:` would otherwise become a
    /// scheme source that admits every http target), and nil for anything that is not a plain
    /// DNS name or IP literal, so no `;`, `*` or space can reach the policy.
    static func origin(of uri: String) -> String? {
        RedirectTarget(uri)?.policySource
    }
}
