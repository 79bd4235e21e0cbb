import GatewayAuth
import Hummingbird

/// A redirect connector's round trip (OIDC, for one): park a pending sign-in bound to this
/// browser, send the browser to the provider, and take its answer on the callback route.
extension SignInRoutes {
    func startRedirect(_ redirect: any RedirectConnector, for purpose: PendingSignIn.Purpose, browser: String) async throws -> Response {
        let state = PendingSignIns.makeState()
        let start: RedirectSignInStart
        do {
            start = try await redirect.start(state: state)
        } catch {
            return signInFailurePage(error)
        }
        try await pendingSignIns.park(PendingSignIn(purpose: purpose, browserID: browser, kept: start.kept), state: state)
        return browsers.keeping(self.redirect(to: start.url), browser: browser)
    }

    /// The provider sends the browser back: the pending sign-in must exist, be this browser's,
    /// and the connector must accept what came back.
    func callback(_ request: Request, _ context: GatewayRequestContext, _ redirect: any RedirectConnector) async throws -> Response {
        guard let parameters = FormData.query(of: request), let state = parameters["state"],
            let pending = try await pendingSignIns.take(state: state)
        else {
            return errorPage("This sign-in expired or was already used. Start again from the application.", status: .badRequest)
        }
        guard browsers.isSameBrowser(request, as: pending.browserID) else {
            return errorPage("This sign-in was started in another browser. Start again from the application.", status: .forbidden)
        }
        let browser = pending.browserID
        do {
            try await limiter.check(.signIn, clientIP: browsers.clientIP(request, context))
        } catch let error as OAuthError {
            return rateLimitedPage(error)
        }
        let person: SignedInPerson
        do {
            person = try await redirect.complete(callback: parameters, kept: pending.kept)
        } catch .declined {
            return try await respond(try await declined(pending.purpose), browser: browser)
        } catch {
            logger.notice(
                "sign-in refused",
                metadata: ["event": "auth.signin_refused", "auth_mode": .string(connector.mode.rawValue), "reason": "\(error)"])
            return signInFailurePage(error)
        }
        return try await respond(try await finish(person, pending.purpose), browser: browser)
    }
}
