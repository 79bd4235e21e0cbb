import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import Hummingbird
import Logging

/// HTTP face of the authorization server: metadata, authorize (with the connector's sign-in
/// page), token, revoke, device authorization and its verification page, JWKS.
struct OAuthRoutes: Sendable {
    let server: AuthorizationServer
    let connector: any SignInConnector
    let limiter: AbuseLimiter
    let formTokens: FormTokens
    let store: GatewayStore
    let configuration: GatewayConfiguration
    let logger: Logger

    static let browserCookie = "gw_browser"
    static let csrfCookie = "gw_csrf"

    var base: String { configuration.publicBaseURL }
    var secureCookies: Bool { base.hasPrefix("https://") }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/.well-known/oauth-authorization-server") { _, _ in metadata() }
        router.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(data: server.tokens.jwksJSON)))
        }
        router.get("/oauth/authorize") { request, context in try await authorize(request, context) }
        router.post("/oauth/authorize") { request, context in try await submitSignIn(request, context) }
        router.post("/oauth/token") { request, context in try await token(request, context) }
        router.post("/oauth/revoke") { request, _ in try await revoke(request) }
        router.post("/oauth/device_authorization") { request, context in try await deviceAuthorization(request, context) }
        router.get("/device") { request, context in try await devicePage(request, context) }
        router.post("/device") { request, context in try await submitDevice(request, context) }
        router.get("/assets/gateway.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(string: HTML.stylesheet)))
        }
    }

    // MARK: Metadata (RFC 8414)

    func metadata() -> Response {
        let document: [String: Any] = [
            "issuer": base,
            "authorization_endpoint": "\(base)/oauth/authorize",
            "token_endpoint": "\(base)/oauth/token",
            "revocation_endpoint": "\(base)/oauth/revoke",
            "device_authorization_endpoint": "\(base)/oauth/device_authorization",
            "jwks_uri": "\(base)/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": AuthorizationServer.supportedScopes,
            "authorization_response_iss_parameter_supported": true,
            "service_documentation": "\(base)/docs/auth.md",
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    // MARK: Authorization endpoint + sign-in page

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
        do {
            let (requestID, pending, client) = try await server.beginAuthorization(parameters)
            return signInPage(
                requestID: requestID, client: client, redirectURI: pending.redirectURI, browser: browserID(request),
                error: nil)
        } catch let failure as AuthorizeFailure {
            switch failure {
            case .errorPage(let message): return errorPage(message, status: .badRequest)
            case .redirect(let location): return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
            }
        }
    }

    func submitSignIn(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        guard let form = try await FormData.body(of: request), let requestID = form["request"] else {
            return errorPage("The sign-in form was incomplete. Start again from the application.", status: .badRequest)
        }
        guard let pending = try await server.pendingAuthorization(requestID),
            let client = server.clients.client(pending.clientID)
        else {
            return errorPage("This sign-in request expired or was already used. Start again from the application.", status: .badRequest)
        }
        let browser = browserID(request)
        guard csrfIsValid(request, form, browser: browser) else {
            return errorPage("The sign-in form expired. Go back, reload the page and try again.", status: .forbidden)
        }
        if form["action"] == "deny" {
            guard let location = try await server.denyAuthorization(requestID) else {
                return errorPage("This sign-in request expired or was already used.", status: .badRequest)
            }
            return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
        }
        let attempt = try await signIn(request, context, form: form, browser: browser) { message in
            signInPage(
                requestID: requestID, client: client, redirectURI: pending.redirectURI, browser: browser, error: message)
        }
        guard case .person(let person) = attempt else { return attempt.page! }
        let user = try await store.user(signingInAs: person.identity, displayName: person.displayName)
        logSignIn(user: user, client: client.id)
        guard let location = try await server.completeAuthorization(requestID, user: user) else {
            return errorPage("This sign-in request expired or was already used. Start again from the application.", status: .badRequest)
        }
        var response = Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
        response.setCookie(browserCookie(browser))
        return response
    }

    func signInPage(
        requestID: String, client: OAuthClient, redirectURI: String, browser: String, error: String?
    ) -> Response {
        let csrf = formTokens.token(forBrowser: browser)
        let passcodeField =
            connector.requiresPasscode
            ? #"<label for="passcode">Passcode</label><input id="passcode" name="passcode" type="password" autocomplete="current-password" required>"#
            : ""
        let body = """
            <h1>Sign in to this gateway</h1>
            <p><strong>\(HTML.escape(client.name))</strong> wants to use your account on \
            <code>\(HTML.escape(base))</code>.</p>
            \(error.map { #"<p class="error" role="alert">\#(HTML.escape($0))</p>"# } ?? "")
            <form method="post" action="/oauth/authorize">
            <input type="hidden" name="request" value="\(HTML.escape(requestID))">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <label for="display_name">Display name</label>
            <input id="display_name" name="display_name" type="text" maxlength="\(DemoConnector.maximumDisplayNameLength)" autocomplete="nickname" required autofocus>
            \(passcodeField)
            <button type="submit" name="action" value="allow">Sign in and allow</button>
            <button type="submit" name="action" value="deny" class="secondary" formnovalidate>Cancel</button>
            </form>
            \(connector.isNonProduction ? #"<p class="muted">Demo sign-in: this gateway does not check who you are.</p>"# : "")
            """
        var response = HTML.page(
            title: "Sign in", body: body, nonProduction: connector.isNonProduction,
            status: error == nil ? .ok : .badRequest, formTargets: [Self.origin(of: redirectURI)].compactMap { $0 })
        response.setCookie(csrfCookie(csrf))
        response.setCookie(browserCookie(browser))
        return response
    }

    // MARK: Token, revocation, device authorization

    func token(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        do {
            try await limiter.check(.token, clientIP: clientIP(request, context))
            guard let form = try await FormData.body(of: request) else {
                throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
            }
            return Self.json(.ok, try JSONEncoder().encode(try await server.token(form)))
        } catch let error as OAuthError {
            return Self.oauthError(error)
        }
    }

    func revoke(_ request: Request) async throws -> Response {
        do {
            guard let form = try await FormData.body(of: request) else {
                throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
            }
            try await server.revoke(form)
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        } catch let error as OAuthError {
            return Self.oauthError(error)
        }
    }

    func deviceAuthorization(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        do {
            try await limiter.check(.authorize, clientIP: clientIP(request, context))
            guard let form = try await FormData.body(of: request) else {
                throw OAuthError.invalidRequest("send parameters as application/x-www-form-urlencoded, each once")
            }
            let response = try await server.startDeviceAuthorization(form, verificationURI: "\(base)/device")
            return Self.json(.ok, try JSONEncoder().encode(response))
        } catch let error as OAuthError {
            return Self.oauthError(error)
        }
    }

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

    enum DeviceLookup {
        case found(PendingDeviceAuthorization)
        /// The page to show instead: unknown code, or too many wrong ones.
        case page(Response)
    }

    /// Finds the pending device authorization of a user code, counting wrong codes per address
    /// (RFC 8628 section 5.1) and refusing an address that entered too many, before any lookup.
    func lookUpDevice(_ request: Request, _ context: GatewayRequestContext, browser: String, userCode: String) async throws -> DeviceLookup {
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
            \(error.map { #"<p class="error" role="alert">\#(HTML.escape($0))</p>"# } ?? "")
            <form method="post" action="/device">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <label for="user_code">Code</label>
            <input id="user_code" name="user_code" type="text" value="\(HTML.escape(userCode))" autocomplete="one-time-code" required autofocus>
            <button type="submit" name="action" value="lookup">Continue</button>
            </form>
            """
        var response = HTML.page(title: "Connect a device", body: body, nonProduction: connector.isNonProduction, status: status)
        response.setCookie(csrfCookie(csrf))
        response.setCookie(browserCookie(browser))
        return response
    }

    /// Step two: which application asked, when, and the sign-in that approves or denies it.
    func deviceApprovalPage(
        browser: String, userCode: String, pending: PendingDeviceAuthorization, error: String?, status: HTTPResponse.Status
    ) -> Response {
        let csrf = formTokens.token(forBrowser: browser)
        let passcodeField =
            connector.requiresPasscode
            ? #"<label for="passcode">Passcode</label><input id="passcode" name="passcode" type="password" required>"#
            : ""
        let asked = pending.requestedAt.map { date in
            let minutes = max(0, Int(Date().timeIntervalSince(date) / 60))
            let ago = minutes == 0 ? "less than a minute ago" : minutes == 1 ? "1 minute ago" : "\(minutes) minutes ago"
            return " at <time datetime=\"\(Self.timestamp(date))\">\(Self.timestamp(date))</time> (\(ago))"
        } ?? ""
        let body = """
            <h1>Connect a device</h1>
            <p><strong>\(HTML.escape(pending.client.name))</strong> asked\(asked) to use your account on \
            <code>\(HTML.escape(base))</code>. Allow it only if you started this sign-in yourself and the terminal shows \
            the code <code>\(HTML.escape(pending.userCode))</code>.</p>
            \(error.map { #"<p class="error" role="alert">\#(HTML.escape($0))</p>"# } ?? "")
            <form method="post" action="/device">
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <input type="hidden" name="user_code" value="\(HTML.escape(userCode))">
            <label for="display_name">Display name</label>
            <input id="display_name" name="display_name" type="text" maxlength="\(DemoConnector.maximumDisplayNameLength)" required autofocus>
            \(passcodeField)
            <button type="submit" name="action" value="allow">Sign in and allow</button>
            <button type="submit" name="action" value="deny" class="secondary" formnovalidate>Deny</button>
            </form>
            """
        var response = HTML.page(title: "Connect a device", body: body, nonProduction: connector.isNonProduction, status: status)
        response.setCookie(csrfCookie(csrf))
        response.setCookie(browserCookie(browser))
        return response
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
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
        let attempt = try await signIn(request, context, form: form, browser: browser) { message in
            deviceApprovalPage(browser: browser, userCode: userCode, pending: pending, error: message, status: .badRequest)
        }
        guard case .person(let person) = attempt else { return attempt.page! }
        let user = try await store.user(signingInAs: person.identity, displayName: person.displayName)
        let approve = action == "allow"
        guard try await server.decideDevice(userCode: userCode, user: user, approve: approve) else {
            return unknownDeviceCode(browser: browser, userCode: userCode)
        }
        logSignIn(user: user, client: pending.client.id)
        let message =
            approve ? "\(pending.client.name) is now signed in. You can close this page and return to your terminal." : "The device was denied."
        var response = HTML.page(
            title: approve ? "Device connected" : "Device denied",
            body: "<h1>\(approve ? "Device connected" : "Device denied")</h1><p>\(HTML.escape(message))</p>",
            nonProduction: connector.isNonProduction)
        response.setCookie(browserCookie(browser))
        return response
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

    /// Rate limit, then ask the connector who this is. `refused` renders the form again with the reason.
    func signIn(
        _ request: Request, _ context: GatewayRequestContext, form: [String: String], browser: String,
        refused: (String) -> Response
    ) async throws -> SignInAttempt {
        do {
            try await limiter.check(.signIn, clientIP: clientIP(request, context))
            return .person(try await connector.identify(SignInSubmission(fields: form, browserID: browser)))
        } catch let error as OAuthError {
            return .page(rateLimitedPage(error))
        } catch SignInError.disabled {
            return .page(disabledPage())
        } catch SignInError.refused(let message) {
            return .page(refused(message))
        }
    }

    func errorPage(_ message: String, status: HTTPResponse.Status) -> Response {
        HTML.page(
            title: "Sign-in problem", body: "<h1>Sign-in problem</h1><p>\(HTML.escape(message))</p>",
            nonProduction: connector.isNonProduction, status: status)
    }

    func disabledPage() -> Response {
        HTML.page(
            title: "Sign-in is switched off",
            body: "<h1>Sign-in is switched off</h1><p>The operator of this gateway has turned demo sign-in off. Ask them to turn it back on (DEMO_SIGNIN_ENABLED) or to configure a production sign-in mode.</p>",
            nonProduction: connector.isNonProduction, status: .forbidden)
    }

    func rateLimitedPage(_ error: OAuthError) -> Response {
        var response = HTML.page(
            title: "Too many attempts",
            body: "<h1>Too many attempts</h1><p>Please wait \(error.retryAfterSeconds ?? 60) seconds and try again.</p>",
            nonProduction: connector.isNonProduction, status: .tooManyRequests)
        response.headers[.retryAfter] = String(error.retryAfterSeconds ?? 60)
        return response
    }

    func logSignIn(user: User, client: String) {
        logger.notice(
            "\(connector.mode.rawValue) sign-in",
            metadata: [
                "event": "auth.signin", "auth_mode": .string(connector.mode.rawValue), "user_id": .string(user.id),
                "client_id": .string(client), "non_production": .stringConvertible(connector.isNonProduction),
            ])
    }

    /// The browser's stable random id (the demo identity): the cookie's, or a new one. Call once
    /// per request and pass it on, so the identity used and the cookie set agree.
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
        ClientAddress.of(request, context: context, trustedHops: configuration.auth.trustedProxyHops)
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

    /// The CSP source that admits exactly the redirect's origin. Schemes and hosts are case
    /// insensitive, so both are lowercased: `HTTP:` would otherwise become a scheme source
    /// that admits every http target.
    static func origin(of uri: String) -> String? {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased() else { return nil }
        guard let host = components.host?.lowercased(), scheme == "http" || scheme == "https" else { return "\(scheme):" }
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart)\(components.port.map { ":\($0)" } ?? "")"
    }

    static func json(_ status: HTTPResponse.Status, _ data: Data) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store", .init("Pragma")!: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// RFC 6749 section 5.2 error body.
    static func oauthError(_ error: OAuthError) -> Response {
        let body = ["error": error.code, "error_description": error.message]
        var response = json(.init(code: error.status), (try? JSONEncoder().encode(body)) ?? Data())
        if let retry = error.retryAfterSeconds { response.headers[.retryAfter] = String(retry) }
        if error.status == 401 { response.headers[.wwwAuthenticate] = #"Basic realm="gateway""# }
        return response
    }
}
