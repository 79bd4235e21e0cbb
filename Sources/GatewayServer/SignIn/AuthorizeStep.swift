import GatewayAuth
import GatewayWeb
import Hummingbird

/// `/oauth/authorize`: an application asks for the person's account. A form connector shows its
/// page here (and gets the answer on POST); a redirect connector goes straight to its provider.
extension SignInRoutes {
    func authorize(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        guard let parameters = FormData.query(of: request) else {
            return errorPage("The sign-in request repeats a parameter, which is not allowed.", status: .badRequest)
        }
        do {
            // Each request parks a pending sign-in for 10 minutes: bounded per address and overall.
            try await limiter.check(.authorize, clientIP: browsers.clientIP(request, context))
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
        let browser = browsers.browserID(request)
        switch connector {
        case .form:
            return signInPage(requestID: requestID, client: client, redirectURI: pending.redirectURI, browser: browser, error: nil)
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
            return expiredRequestPage()
        }
        let browser = browsers.browserID(request)
        guard browsers.formTokenIsValid(request, form, browser: browser) else {
            return errorPage("The sign-in form expired. Go back, reload the page and try again.", status: .forbidden)
        }
        if form["action"] == "deny" {
            return try await respond(try await declined(.authorization(requestID: requestID)), browser: browser)
        }
        let attempt = try await identify(formConnector, request, context, form: form, browser: browser)
        switch attempt {
        case .person(let person):
            return try await respond(try await finish(person, .authorization(requestID: requestID)), browser: browser)
        case .refused(let message):
            return signInPage(requestID: requestID, client: client, redirectURI: pending.redirectURI, browser: browser, error: message)
        case .page(let response):
            return response
        }
    }

    func signInPage(requestID: String, client: OAuthClient, redirectURI: String, browser: String, error: String?) -> Response {
        let csrf = browsers.formToken(forBrowser: browser)
        let (controls, sources) = controls(allow: "Sign in and allow")
        let page = SignInPages.SignIn(
            requestID: requestID, csrf: csrf, client: clientStatement(client, redirectURI: redirectURI), error: error,
            controls: controls)
        let response = page.response(
            nonProduction: nonProduction, status: error == nil ? .ok : .badRequest,
            formTargets: [Self.origin(of: redirectURI)].compactMap { $0 }, extraSources: sources)
        return browsers.keeping(response, browser: browser, formToken: csrf)
    }

    enum SignInAttempt {
        case person(SignedInPerson)
        /// The connector refused with a reason: the form again, with the reason.
        case refused(String)
        /// The page to show instead: rate limited, switched off, or the provider is unreachable.
        case page(Response)
    }

    /// Rate limit, then ask the form connector who this is.
    func identify(
        _ connector: any FormConnector, _ request: Request, _ context: GatewayRequestContext, form submitted: [String: String],
        browser: String
    ) async throws -> SignInAttempt {
        do {
            try await limiter.check(.signIn, clientIP: browsers.clientIP(request, context))
            return .person(try await connector.identify(SignInSubmission(fields: submitted, browserID: browser)))
        } catch let error as OAuthError {
            return .page(rateLimitedPage(error))
        } catch SignInError.refused(let message) {
            return .refused(message)
        } catch let error as SignInError {
            return .page(signInFailurePage(error))
        }
    }
}
