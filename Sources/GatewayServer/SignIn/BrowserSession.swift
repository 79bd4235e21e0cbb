import Foundation
import GatewayAuth
import GatewayConfig
import Hummingbird

/// The browser a sign-in happens in: its stable random id (a cookie; the demo identity, and
/// what pending sign-ins, consents and form tokens are bound to), its form tokens against
/// cross-site requests, and its address for rate limits.
struct BrowserSession: Sendable {
    static let browserCookie = "gw_browser"
    static let csrfCookie = "gw_csrf"

    let formTokens: FormTokens
    let configuration: GatewayConfiguration

    var secureCookies: Bool { configuration.publicBaseURL.hasPrefix("https://") }

    /// The browser's id: the cookie's, or a new one. Call once per request and pass it on, so
    /// the id used and the cookie set agree.
    func browserID(_ request: Request) -> String {
        if let value = request.cookies[Self.browserCookie]?.value, value.count == 43,
            value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        {
            return value
        }
        return OpaqueToken.generate()
    }

    /// A new form token for a page with a form.
    func formToken(forBrowser browser: String) -> String {
        formTokens.token(forBrowser: browser)
    }

    /// `response` with the browser's id cookie, and the form token's when the page has a form.
    func keeping(_ response: Response, browser: String, formToken: String? = nil) -> Response {
        var response = response
        if let formToken {
            response.setCookie(
                Cookie(
                    name: Self.csrfCookie, value: formToken, maxAge: 3600, path: "/", secure: secureCookies, httpOnly: true,
                    sameSite: .strict))
        }
        response.setCookie(
            Cookie(
                name: Self.browserCookie, value: browser, maxAge: 365 * 24 * 3600, path: "/", secure: secureCookies,
                httpOnly: true, sameSite: .lax))
        return response
    }

    /// The form's hidden token must equal the SameSite=Strict cookie (which another site can
    /// neither read nor make the browser send) and be this browser's token under the server's
    /// key (so a pair made up elsewhere, or planted by a sibling subdomain, is refused).
    func formTokenIsValid(_ request: Request, _ form: [String: String], browser: String) -> Bool {
        guard let cookie = request.cookies[Self.csrfCookie]?.value, let submitted = form["csrf"], !cookie.isEmpty else {
            return false
        }
        return OpaqueToken.constantTimeEquals(cookie, submitted) && formTokens.isValid(submitted, forBrowser: browser)
    }

    /// Whether the request carries the browser cookie `browser` (a redirect sign-in's callback
    /// must come back to the browser that started it).
    func isSameBrowser(_ request: Request, as browser: String) -> Bool {
        guard let cookie = request.cookies[Self.browserCookie]?.value else { return false }
        return OpaqueToken.constantTimeEquals(cookie, browser)
    }

    func clientIP(_ request: Request, _ context: GatewayRequestContext) -> String {
        ClientAddress.of(
            request, context: context, trustedHops: configuration.auth.trustedProxyHops, ipv6Prefix: configuration.auth.ipv6PrefixLength)
    }
}
