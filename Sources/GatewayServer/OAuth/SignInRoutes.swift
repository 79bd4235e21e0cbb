import Foundation
import GatewayAuth
import GatewayConfig
import GatewayEphemeral
import GatewayStore
import Hummingbird
import Logging

/// The pages a person signs in on: `/oauth/authorize` (for an application), `/device` (to
/// approve a device code) and a redirect connector's callback. Whatever the connector, every
/// path establishes a person and ends in `finish`, which completes what the sign-in was for.
struct SignInRoutes: Sendable {
    let server: AuthorizationServer
    let connector: SignInConnector
    let pendingSignIns: PendingSignIns
    let limiter: AbuseLimiter
    let formTokens: FormTokens
    let store: GatewayStore
    /// Where a consent waits for its answer (any replica may get it).
    let ephemeral: any EphemeralStore
    let configuration: GatewayConfiguration
    let logger: Logger

    static let browserCookie = "gw_browser"
    static let csrfCookie = "gw_csrf"

    var base: String { configuration.publicBaseURL }
    var secureCookies: Bool { base.hasPrefix("https://") }
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

    // MARK: Authorization endpoint

    func authorize(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        guard let parameters = FormData.query(of: request) else {
            return errorPage("The sign-in request repeats a parameter, which is not allowed.", status: .badRequest)
        }
        do {
            // Each request parks a pending sign-in for 10 minutes: bounded per address and overall.
            try await limiter.check(.authorize, clientIP: clientIP(request, context))
        } catch let error as OAuthError {
            return rateLimitedPage(error)
        }
        guard parameters["client_id"]?.hasPrefix("http") == true else {
            return try await startAuthorization(request, parameters: parameters)
        }
        // A metadata-document client: its document may take seconds to fetch; a browser that
        // leaves meanwhile cancels its wait (and the fetch, when nobody else waits).
        return try await request.respondUnlessClientLeaves(context: context) { request in
            try await startAuthorization(request, parameters: parameters)
        } failure: { error in
            throw error
        }
    }

    /// Checks the request and shows the connector's sign-in (or goes to its provider).
    func startAuthorization(_ request: Request, parameters: [String: String]) async throws -> Response {
        let (requestID, pending, client): (String, AuthorizationRequest, OAuthClient)
        do {
            (requestID, pending, client) = try await server.beginAuthorization(parameters)
        } catch let failure as AuthorizeFailure {
            switch failure {
            case .errorPage(let message): return errorPage(message, status: .badRequest)
            case .redirect(let location): return redirect(to: location)
            }
        }
        let browser = browserID(request)
        switch connector {
        case .form(let form):
            return signInPage(form, requestID: requestID, client: client, redirectURI: pending.redirectURI, browser: browser, error: nil)
        case .redirect(let redirect):
            // No extra click: straight to the identity provider.
            return try await startRedirect(redirect, for: .authorization(requestID: requestID), browser: browser)
        }
    }

    /// The form connector's answer for an authorization request.
    func submitSignIn(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        guard case .form(let formConnector) = connector else {
            return errorPage("This gateway signs people in with \(providerName); start again from the application.", status: .badRequest)
        }
        guard let form = try await FormData.body(of: request), let requestID = form["request"] else {
            return errorPage("The sign-in form was incomplete. Start again from the application.", status: .badRequest)
        }
        guard let pending = try await server.pendingAuthorization(requestID),
            let client = try? await server.client(pending.clientID)
        else {
            return errorPage("This sign-in request expired or was already used. Start again from the application.", status: .badRequest)
        }
        let browser = browserID(request)
        guard csrfIsValid(request, form, browser: browser) else {
            return errorPage("The sign-in form expired. Go back, reload the page and try again.", status: .forbidden)
        }
        if form["action"] == "deny" {
            return try await declined(.authorization(requestID: requestID), browser: browser)
        }
        let attempt = try await identify(formConnector, request, context, form: form, browser: browser) { message in
            signInPage(
                formConnector, requestID: requestID, client: client, redirectURI: pending.redirectURI, browser: browser, error: message)
        }
        guard case .person(let person) = attempt else { return attempt.page! }
        return try await finish(person, .authorization(requestID: requestID), browser: browser)
    }

    func signInPage(
        _ form: any FormConnector, requestID: String, client: OAuthClient, redirectURI: String, browser: String, error: String?
    ) -> Response {
        let csrf = formTokens.token(forBrowser: browser)
        let (inputs, allow, notice, sources) = Self.parts(of: form.page, allow: "Sign in and allow")
        let body = """
            <h1>Sign in to this gateway</h1>
            \(Self.clientStatement(client, redirectURI: redirectURI, base: base))
            \(alert(error))
            <form method="post" action="/oauth/authorize" id="sign-in-form">
            <input type="hidden" name="request" value="\(HTML.escape(requestID))">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            \(inputs)
            \(allow)
            <button type="submit" name="action" value="deny" class="secondary" formnovalidate>Cancel</button>
            </form>
            \(notice)
            """
        var response = HTML.page(
            title: "Sign in", body: body, nonProduction: nonProduction, status: error == nil ? .ok : .badRequest,
            formTargets: [Self.origin(of: redirectURI)].compactMap { $0 }, extraSources: sources)
        response.setCookie(csrfCookie(csrf))
        response.setCookie(browserCookie(browser))
        return response
    }

    /// Who is asking. A third-party client's name is its own claim, so it is shown as such,
    /// with the host the browser will be sent back to (the one fact the gateway checks).
    static func clientStatement(_ client: OAuthClient, redirectURI: String, base: String) -> String {
        guard client.isThirdParty else {
            return "<p><strong>\(HTML.escape(client.name))</strong> wants to use your account on <code>\(HTML.escape(base))</code>.</p>"
        }
        let source =
            client.origin == .metadataDocument
            ? " It is described by <code>\(HTML.escape(client.id))</code>." : " It registered itself with this gateway."
        // Third-party redirects were checked when the client declared them: ASCII only, a DNS
        // name or IP literal, or a reverse-domain app scheme (RedirectTarget).
        let target = RedirectTarget(redirectURI)
        let destination: String
        switch target?.kind {
        case .app(let scheme)?:
            destination = """
                If you allow it, you will be sent to whichever app on this device handles \
                <strong><code>\(HTML.escape(scheme)):</code></strong> links (any app can claim such a scheme).
                """
        default:
            let host = target?.shownAs ?? redirectURI
            let international =
                target?.isInternationalizedHost == true
                ? " This is an internationalized name shown in its ASCII form; its letters may imitate another name's." : ""
            destination = "If you allow it, you will be sent back to <strong>\(HTML.escape(host))</strong>.\(international)"
        }
        return """
            <p>An application calling itself <strong>\(HTML.escape(client.name))</strong> \
            <span class="badge">unverified name</span> wants to use the agents you may use on \
            <code>\(HTML.escape(base))</code> through its MCP server (<code>/mcp</code>): it can list them and chat with them as you. \
            It gets nothing else of your account.\(source)</p>
            <p>\(destination) Only continue if you started this from an application you trust.</p>
            """
    }

    /// The form's inputs, its allow button (none for a script, which submits by itself), the
    /// line under it and the page's extra policy sources.
    static func parts(of page: SignInPage, allow label: String) -> (String, String, String, [String: [String]]) {
        switch page {
        case .fields(let fields, let notice):
            return (
                inputs(fields), #"<button type="submit" name="action" value="allow">\#(HTML.escape(label))</button>"#,
                notice.map { #"<p class="muted">\#(HTML.escape($0))</p>"# } ?? "", [:]
            )
        case .script(let script):
            var sources = script.contentSecurityPolicy
            sources["script-src", default: []].insert("'self'", at: 0)
            sources["connect-src", default: []].insert("'self'", at: 0)
            return (
                """
                <input type="hidden" name="\(HTML.escape(script.resultField))" value="">
                \(script.markup)
                <script type="module" src="\(HTML.escape(script.scriptPath))"></script>
                """,
                "", "", sources
            )
        }
    }

    static func inputs(_ fields: [SignInField]) -> String {
        fields.enumerated().map { index, field in
            let length = field.maximumLength.map { #" maxlength="\#($0)""# } ?? ""
            return """
                <label for="\(HTML.escape(field.name))">\(HTML.escape(field.label))</label>
                <input id="\(HTML.escape(field.name))" name="\(HTML.escape(field.name))" type="\(field.kind.rawValue)"\(length) \
                autocomplete="\(HTML.escape(field.autocomplete))" required\(index == 0 ? " autofocus" : "")>
                """
        }.joined(separator: "\n")
    }

    // MARK: Device verification (RFC 8628)

    /// `/device`: without a code, a form that asks for it; with one (the complete verification
    /// URI), what asked and when, and the sign-in to approve it.
    func devicePage(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let browser = browserID(request)
        guard let userCode = FormData.query(of: request)?["user_code"], !userCode.isEmpty else {
            return deviceCodePage(browser: browser, userCode: "", error: nil, status: .ok)
        }
        switch try await lookUpDevice(request, context, browser: browser, userCode: userCode) {
        case .page(let response): return response
        case .found(let pending): return deviceApprovalPage(browser: browser, userCode: userCode, pending: pending, error: nil, status: .ok)
        }
    }

    func submitDevice(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let browser = browserID(request)
        guard let form = try await FormData.body(of: request) else {
            return deviceCodePage(browser: browser, userCode: "", error: "The form was incomplete.", status: .badRequest)
        }
        let userCode = form["user_code"] ?? ""
        guard csrfIsValid(request, form, browser: browser) else {
            return deviceCodePage(browser: browser, userCode: userCode, error: "The form expired; please try again.", status: .forbidden)
        }
        let pending: PendingDeviceAuthorization
        switch try await lookUpDevice(request, context, browser: browser, userCode: userCode) {
        case .page(let response): return response
        case .found(let found): pending = found
        }
        // The code alone (step one) shows what asked; only the approval form decides.
        guard let action = form["action"], action == "allow" || action == "deny" else {
            return deviceApprovalPage(browser: browser, userCode: userCode, pending: pending, error: nil, status: .ok)
        }
        if action == "deny" {
            // Refusing a code needs no sign-in.
            guard try await server.denyDevice(userCode: userCode) else { return unknownDeviceCode(browser: browser, userCode: userCode) }
            return HTML.page(
                title: "Device denied", body: "<h1>Device denied</h1><p>The device was denied. You can close this page.</p>",
                nonProduction: nonProduction)
        }
        let purpose = PendingSignIn.Purpose.device(userCode: userCode, approve: true)
        switch connector {
        case .form(let formConnector):
            let attempt = try await identify(formConnector, request, context, form: form, browser: browser) { message in
                deviceApprovalPage(browser: browser, userCode: userCode, pending: pending, error: message, status: .badRequest)
            }
            guard case .person(let person) = attempt else { return attempt.page! }
            return try await finish(person, purpose, browser: browser)
        case .redirect(let redirect):
            return try await startRedirect(redirect, for: purpose, browser: browser)
        }
    }

    enum DeviceLookup {
        case found(PendingDeviceAuthorization)
        /// The page to show instead: unknown code, or too many wrong ones.
        case page(Response)
    }

    /// Finds the pending device authorization of a user code, counting wrong codes per address
    /// (RFC 8628 section 5.1) and refusing an address that entered too many, before any lookup.
    func lookUpDevice(_ request: Request, _ context: GatewayRequestContext, browser: String, userCode: String) async throws -> DeviceLookup
    {
        let address = clientIP(request, context)
        do {
            try await limiter.checkUserCodeGuessing(clientIP: address)
            guard let pending = try await server.pendingDevice(userCode: userCode) else {
                try await limiter.recordUserCodeFailure(clientIP: address)
                return .page(unknownDeviceCode(browser: browser, userCode: userCode))
            }
            return .found(pending)
        } catch let error as OAuthError {
            return .page(rateLimitedPage(error))
        }
    }

    func unknownDeviceCode(browser: String, userCode: String) -> Response {
        deviceCodePage(browser: browser, userCode: userCode, error: "That code is unknown, expired or already used.", status: .badRequest)
    }

    /// Step one: the code shown in the terminal.
    func deviceCodePage(browser: String, userCode: String, error: String?, status: HTTPResponse.Status) -> Response {
        let csrf = formTokens.token(forBrowser: browser)
        let body = """
            <h1>Connect a device</h1>
            <p>Enter the code shown in your terminal to let it use your account on <code>\(HTML.escape(base))</code>.</p>
            \(alert(error))
            <form method="post" action="/device">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <label for="user_code">Code</label>
            <input id="user_code" name="user_code" type="text" value="\(HTML.escape(userCode))" autocomplete="one-time-code" required autofocus>
            <button type="submit" name="action" value="lookup">Continue</button>
            </form>
            """
        var response = HTML.page(title: "Connect a device", body: body, nonProduction: nonProduction, status: status)
        response.setCookie(csrfCookie(csrf))
        response.setCookie(browserCookie(browser))
        return response
    }

    /// Step two: which application asked, when, and the sign-in that approves or denies it.
    func deviceApprovalPage(
        browser: String, userCode: String, pending: PendingDeviceAuthorization, error: String?, status: HTTPResponse.Status
    ) -> Response {
        let csrf = formTokens.token(forBrowser: browser)
        let asked =
            pending.requestedAt.map { date in
                let minutes = max(0, Int(Date().timeIntervalSince(date) / 60))
                let ago = minutes == 0 ? "less than a minute ago" : minutes == 1 ? "1 minute ago" : "\(minutes) minutes ago"
                return " at <time datetime=\"\(Self.timestamp(date))\">\(Self.timestamp(date))</time> (\(ago))"
            } ?? ""
        let (fields, allow, sources): (String, String, [String: [String]]) =
            switch connector {
            case .form(let form):
                {
                    let parts = Self.parts(of: form.page, allow: "Sign in and allow")
                    return (parts.0, parts.1, parts.3)
                }()
            case .redirect(let redirect):
                (
                    "",
                    #"<button type="submit" name="action" value="allow">Continue with \#(HTML.escape(redirect.providerName)) and allow</button>"#,
                    [:]
                )
            }
        let body = """
            <h1>Connect a device</h1>
            <p><strong>\(HTML.escape(pending.client.name))</strong> asked\(asked) to use your account on \
            <code>\(HTML.escape(base))</code>. Allow it only if you started this sign-in yourself and the terminal shows \
            the code <code>\(HTML.escape(pending.userCode))</code>.</p>
            \(alert(error))
            <form method="post" action="/device" id="sign-in-form">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <input type="hidden" name="user_code" value="\(HTML.escape(userCode))">
            \(fields)
            \(allow)
            <button type="submit" name="action" value="deny" class="secondary" formnovalidate>Deny</button>
            </form>
            """
        var response = HTML.page(
            title: "Connect a device", body: body, nonProduction: nonProduction, status: status, extraSources: sources)
        response.setCookie(csrfCookie(csrf))
        response.setCookie(browserCookie(browser))
        return response
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    // MARK: Redirect connectors

    /// Parks a pending sign-in bound to this browser and sends the browser to the provider.
    func startRedirect(_ redirect: any RedirectConnector, for purpose: PendingSignIn.Purpose, browser: String) async throws -> Response {
        let state = PendingSignIns.makeState()
        let start: RedirectSignInStart
        do {
            start = try await redirect.start(state: state)
        } catch {
            return signInFailurePage(error)
        }
        try await pendingSignIns.park(PendingSignIn(purpose: purpose, browserID: browser, kept: start.kept), state: state)
        var response = self.redirect(to: start.url)
        response.setCookie(browserCookie(browser))
        return response
    }

    /// The provider sends the browser back: the pending sign-in must exist, be this browser's,
    /// and the connector must accept what came back.
    func callback(_ request: Request, _ context: GatewayRequestContext, _ redirect: any RedirectConnector) async throws -> Response {
        guard let parameters = FormData.query(of: request), let state = parameters["state"],
            let pending = try await pendingSignIns.take(state: state)
        else {
            return errorPage("This sign-in expired or was already used. Start again from the application.", status: .badRequest)
        }
        guard let browser = request.cookies[Self.browserCookie]?.value,
            OpaqueToken.constantTimeEquals(browser, pending.browserID)
        else {
            return errorPage("This sign-in was started in another browser. Start again from the application.", status: .forbidden)
        }
        do {
            try await limiter.check(.signIn, clientIP: clientIP(request, context))
        } catch let error as OAuthError {
            return rateLimitedPage(error)
        }
        let person: SignedInPerson
        do {
            person = try await redirect.complete(callback: parameters, kept: pending.kept)
        } catch .declined {
            return try await declined(pending.purpose, browser: browser)
        } catch {
            logger.notice(
                "sign-in refused",
                metadata: ["event": "auth.signin_refused", "auth_mode": .string(connector.mode.rawValue), "reason": "\(error)"])
            return signInFailurePage(error)
        }
        return try await finish(person, pending.purpose, browser: browser)
    }

    // MARK: The one finish step

    /// Turns the person into a user and completes what the sign-in was for.
    func finish(_ person: SignedInPerson, _ purpose: PendingSignIn.Purpose, browser: String) async throws -> Response {
        let user = try await store.user(signingInAs: person.identity, displayName: person.displayName)
        switch purpose {
        case .authorization(let requestID):
            let pending = try await server.pendingAuthorization(requestID)
            let client = try? await server.client(pending?.clientID)
            // A third-party client's request went straight to the identity provider: the person
            // has not seen who is asking yet, so they are asked now. (A form connector's page
            // already said it, and signing in there was the consent.)
            if let client, let pending, client.isThirdParty, case .redirect = connector {
                return try await consentPage(requestID: requestID, pending: pending, client: client, user: user, browser: browser)
            }
            guard let client, let location = try await server.completeAuthorization(requestID, user: user) else {
                return errorPage("This sign-in request expired or was already used. Start again from the application.", status: .badRequest)
            }
            logSignIn(user: user, client: client.id)
            var response = redirect(to: location)
            response.setCookie(browserCookie(browser))
            return response
        case .device(let userCode, let approve):
            let client = try await server.pendingDevice(userCode: userCode)?.client
            guard let client, try await server.decideDevice(userCode: userCode, user: user, approve: approve) else {
                return unknownDeviceCode(browser: browser, userCode: userCode)
            }
            logSignIn(user: user, client: client.id)
            let message =
                approve ? "\(client.name) is now signed in. You can close this page and return to your terminal." : "The device was denied."
            var response = HTML.page(
                title: approve ? "Device connected" : "Device denied",
                body: "<h1>\(approve ? "Device connected" : "Device denied")</h1><p>\(HTML.escape(message))</p>",
                nonProduction: nonProduction)
            response.setCookie(browserCookie(browser))
            return response
        }
    }

    // MARK: Consent (third-party clients after an identity provider)

    struct PendingConsent: Codable {
        let userID: String
        let browserID: String
    }

    static func consentKey(_ requestID: String) -> String { "consent:\(OpaqueToken.hash(requestID))" }

    func consentPage(requestID: String, pending: AuthorizationRequest, client: OAuthClient, user: User, browser: String) async throws
        -> Response
    {
        let record = String(decoding: try JSONEncoder().encode(PendingConsent(userID: user.id, browserID: browser)), as: UTF8.self)
        try await ephemeral.set(Self.consentKey(requestID), record, ttl: PendingSignIns.lifetime)
        let csrf = formTokens.token(forBrowser: browser)
        let body = """
            <h1>Allow access?</h1>
            <p>You are signed in as <strong>\(HTML.escape(user.displayName))</strong>.</p>
            \(Self.clientStatement(client, redirectURI: pending.redirectURI, base: base))
            <form method="post" action="/oauth/consent">
            <input type="hidden" name="request" value="\(HTML.escape(requestID))">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <button type="submit" name="action" value="allow">Allow</button>
            <button type="submit" name="action" value="deny" class="secondary">Deny</button>
            </form>
            """
        var response = HTML.page(
            title: "Allow access?", body: body, nonProduction: nonProduction,
            formTargets: [Self.origin(of: pending.redirectURI)].compactMap { $0 })
        response.setCookie(csrfCookie(csrf))
        response.setCookie(browserCookie(browser))
        return response
    }

    func submitConsent(_ request: Request) async throws -> Response {
        guard let form = try await FormData.body(of: request), let requestID = form["request"] else {
            return errorPage("The form was incomplete. Start again from the application.", status: .badRequest)
        }
        let browser = browserID(request)
        guard csrfIsValid(request, form, browser: browser) else {
            return errorPage("The form expired. Start again from the application.", status: .forbidden)
        }
        // Read, compared with this browser, and only then taken: another browser's request (a
        // stolen request id) must not use up the person's pending consent.
        guard let pendingRaw = try await ephemeral.get(Self.consentKey(requestID)),
            let pendingConsent = try? JSONDecoder().decode(PendingConsent.self, from: Data(pendingRaw.utf8)),
            pendingConsent.browserID == browser,
            let raw = try await ephemeral.take(Self.consentKey(requestID)),
            let consent = try? JSONDecoder().decode(PendingConsent.self, from: Data(raw.utf8)), consent.browserID == browser,
            let user = try await store.user(id: consent.userID)
        else {
            return errorPage("This request expired or was already answered. Start again from the application.", status: .badRequest)
        }
        guard form["action"] == "allow" else { return try await declined(.authorization(requestID: requestID), browser: browser) }
        let client = try? await server.client(try await server.pendingAuthorization(requestID)?.clientID)
        guard let location = try await server.completeAuthorization(requestID, user: user) else {
            return errorPage("This request expired or was already used. Start again from the application.", status: .badRequest)
        }
        logSignIn(user: user, client: client?.id ?? "?")
        return redirect(to: location)
    }

    /// The person declined (on the gateway's page or at the provider): the application is told
    /// `access_denied`; a device code is left for its terminal to time out.
    func declined(_ purpose: PendingSignIn.Purpose, browser: String) async throws -> Response {
        switch purpose {
        case .authorization(let requestID):
            guard let location = try await server.denyAuthorization(requestID) else {
                return errorPage("This sign-in request expired or was already used.", status: .badRequest)
            }
            return redirect(to: location)
        case .device:
            return HTML.page(
                title: "Sign-in cancelled", body: "<h1>Sign-in cancelled</h1><p>Nothing was approved. You can close this page.</p>",
                nonProduction: nonProduction)
        }
    }

    // MARK: Pages and helpers

    enum SignInAttempt {
        case person(SignedInPerson)
        /// The page to show instead: rate limited, switched off, or refused with a reason.
        case page(Response)

        var page: Response? {
            if case .page(let response) = self { return response }
            return nil
        }
    }

    /// Rate limit, then ask the form connector who this is. `refused` renders the form again with the reason.
    func identify(
        _ connector: any FormConnector, _ request: Request, _ context: GatewayRequestContext, form submitted: [String: String],
        browser: String, refused: (String) -> Response
    ) async throws -> SignInAttempt {
        do {
            try await limiter.check(.signIn, clientIP: clientIP(request, context))
            return .person(try await connector.identify(SignInSubmission(fields: submitted, browserID: browser)))
        } catch let error as OAuthError {
            return .page(rateLimitedPage(error))
        } catch SignInError.refused(let message) {
            return .page(refused(message))
        } catch let error as SignInError {
            return .page(signInFailurePage(error))
        }
    }

    var providerName: String {
        switch connector {
        case .form: connector.mode.rawValue
        case .redirect(let redirect): redirect.providerName
        }
    }

    func signInFailurePage(_ error: SignInError) -> Response {
        switch error {
        case .disabled:
            return HTML.page(
                title: "Sign-in is switched off",
                body:
                    "<h1>Sign-in is switched off</h1><p>The operator of this gateway has turned demo sign-in off. Ask them to turn it back on (DEMO_SIGNIN_ENABLED) or to configure a production sign-in mode.</p>",
                nonProduction: nonProduction, status: .forbidden)
        case .refused(let message):
            return errorPage(message, status: .forbidden)
        case .providerUnavailable(let message):
            return HTML.page(
                title: "Identity provider unreachable",
                body: "<h1>Identity provider unreachable</h1><p>\(HTML.escape(message))</p><p>Try again in a minute.</p>",
                nonProduction: nonProduction, status: .serviceUnavailable)
        case .declined:
            return errorPage("The sign-in was cancelled.", status: .forbidden)
        }
    }

    func alert(_ error: String?) -> String {
        error.map { #"<p class="error" role="alert">\#(HTML.escape($0))</p>"# } ?? ""
    }

    func errorPage(_ message: String, status: HTTPResponse.Status) -> Response {
        HTML.page(
            title: "Sign-in problem", body: "<h1>Sign-in problem</h1><p>\(HTML.escape(message))</p>", nonProduction: nonProduction,
            status: status)
    }

    func rateLimitedPage(_ error: OAuthError) -> Response {
        var response = HTML.page(
            title: "Too many attempts",
            body: "<h1>Too many attempts</h1><p>Please wait \(error.retryAfterSeconds ?? 60) seconds and try again.</p>",
            nonProduction: nonProduction, status: .tooManyRequests)
        response.headers[.retryAfter] = String(error.retryAfterSeconds ?? 60)
        return response
    }

    func redirect(to location: String) -> Response {
        Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }

    func logSignIn(user: User, client: String) {
        logger.notice(
            "\(connector.mode.rawValue) sign-in",
            metadata: [
                "event": "auth.signin", "auth_mode": .string(connector.mode.rawValue), "user_id": .string(user.id),
                "client_id": .string(client), "non_production": .stringConvertible(nonProduction),
            ])
    }

    /// The browser's stable random id (the demo identity, and what pending sign-ins and form
    /// tokens are bound to): the cookie's, or a new one. Call once per request and pass it on,
    /// so the id used and the cookie set agree.
    func browserID(_ request: Request) -> String {
        if let value = request.cookies[Self.browserCookie]?.value, value.count == 43,
            value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        {
            return value
        }
        return OpaqueToken.generate()
    }

    func browserCookie(_ id: String) -> Cookie {
        Cookie(
            name: Self.browserCookie, value: id, maxAge: 365 * 24 * 3600, path: "/", secure: secureCookies, httpOnly: true,
            sameSite: .lax)
    }

    func clientIP(_ request: Request, _ context: GatewayRequestContext) -> String {
        ClientAddress.of(
            request, context: context, trustedHops: configuration.auth.trustedProxyHops, ipv6Prefix: configuration.auth.ipv6PrefixLength)
    }

    func csrfCookie(_ token: String) -> Cookie {
        Cookie(name: Self.csrfCookie, value: token, maxAge: 3600, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    /// The form's hidden token must equal the SameSite=Strict cookie (which another site can
    /// neither read nor make the browser send) and be this browser's token under the server's
    /// key (so a pair made up elsewhere, or planted by a sibling subdomain, is refused).
    func csrfIsValid(_ request: Request, _ form: [String: String], browser: String) -> Bool {
        guard let cookie = request.cookies[Self.csrfCookie]?.value, let submitted = form["csrf"], !cookie.isEmpty else {
            return false
        }
        return OpaqueToken.constantTimeEquals(cookie, submitted) && formTokens.isValid(submitted, forBrowser: browser)
    }

    /// The CSP source that admits exactly the redirect's origin, built from its checked ASCII
    /// form (`RedirectTarget`): scheme and host lowercased (`HTTP:` would otherwise become a
    /// scheme source that admits every http target), and nil for anything that is not a plain
    /// DNS name or IP literal, so no `;`, `*` or space can reach the policy.
    static func origin(of uri: String) -> String? {
        RedirectTarget(uri)?.policySource
    }
}
