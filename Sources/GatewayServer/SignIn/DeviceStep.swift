import Foundation
import GatewayAuth
import GatewayWeb
import Hummingbird

/// `/device` (RFC 8628): the person enters the code their terminal shows, sees which
/// application asked and when, and approves it by signing in (or denies it).
extension SignInRoutes {
    /// Without a code, a form that asks for it; with one (the complete verification URI), what
    /// asked and when, and the sign-in to approve it.
    func devicePage(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let browser = browsers.browserID(request)
        guard let userCode = FormData.query(of: request)?["user_code"], !userCode.isEmpty else {
            return deviceCodePage(browser: browser, userCode: "", error: nil, status: .ok)
        }
        switch try await lookUpDevice(request, context, browser: browser, userCode: userCode) {
        case .page(let response): return response
        case .found(let pending): return deviceApprovalPage(browser: browser, userCode: userCode, pending: pending, error: nil, status: .ok)
        }
    }

    func submitDevice(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let browser = browsers.browserID(request)
        guard let form = try await FormData.body(of: request) else {
            return deviceCodePage(browser: browser, userCode: "", error: "The form was incomplete.", status: .badRequest)
        }
        let userCode = form["user_code"] ?? ""
        guard browsers.formTokenIsValid(request, form, browser: browser) else {
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
            return SignInPages.Message("Device denied", "The device was denied. You can close this page.")
                .response(nonProduction: nonProduction)
        }
        let purpose = PendingSignIn.Purpose.device(userCode: userCode, approve: true)
        switch connector {
        case .form(let formConnector):
            switch try await identify(formConnector, request, context, form: form, browser: browser) {
            case .person(let person):
                return try await respond(try await finish(person, purpose), browser: browser)
            case .refused(let message):
                return deviceApprovalPage(browser: browser, userCode: userCode, pending: pending, error: message, status: .badRequest)
            case .page(let response):
                return response
            }
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
        let address = browsers.clientIP(request, context)
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
        let csrf = browsers.formToken(forBrowser: browser)
        let page = SignInPages.DeviceCode(base: base, csrf: csrf, userCode: userCode, error: error)
        return browsers.keeping(page.response(nonProduction: nonProduction, status: status), browser: browser, formToken: csrf)
    }

    /// Step two: which application asked, when, and the sign-in that approves or denies it.
    func deviceApprovalPage(
        browser: String, userCode: String, pending: PendingDeviceAuthorization, error: String?, status: HTTPResponse.Status
    ) -> Response {
        let csrf = browsers.formToken(forBrowser: browser)
        let asked = pending.requestedAt.map { date in
            let minutes = max(0, Int(Date().timeIntervalSince(date) / 60))
            let ago = minutes == 0 ? "less than a minute ago" : minutes == 1 ? "1 minute ago" : "\(minutes) minutes ago"
            return SignInPages.RequestedAt(timestamp: Self.timestamp(date), ago: ago)
        }
        let (controls, sources) = controls(allow: "Sign in and allow")
        let page = SignInPages.DeviceApproval(
            clientName: pending.client.name, requestedAt: asked, base: base, shownCode: pending.userCode, userCode: userCode, csrf: csrf,
            error: error,
            controls: controls)
        return browsers.keeping(
            page.response(nonProduction: nonProduction, status: status, extraSources: sources), browser: browser, formToken: csrf)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
