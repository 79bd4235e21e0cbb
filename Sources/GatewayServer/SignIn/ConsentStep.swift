import Foundation
import GatewayAuth
import GatewayStore
import GatewayWeb
import Hummingbird

/// `/oauth/consent`: a third-party client's request went straight to the identity provider, so
/// the person has not seen who is asking yet; once signed in, they are asked.
extension SignInRoutes {
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
        let csrf = browsers.formToken(forBrowser: browser)
        let page = SignInPages.Consent(
            userName: user.displayName, requestID: requestID, csrf: csrf,
            client: clientStatement(client, redirectURI: pending.redirectURI))
        let response = page.response(
            nonProduction: nonProduction, formTargets: [Self.origin(of: pending.redirectURI)].compactMap { $0 })
        return browsers.keeping(response, browser: browser, formToken: csrf)
    }

    func submitConsent(_ request: Request) async throws -> Response {
        guard let form = try await FormData.body(of: request), let requestID = form["request"] else {
            return errorPage("The form was incomplete. Start again from the application.", status: .badRequest)
        }
        let browser = browsers.browserID(request)
        guard browsers.formTokenIsValid(request, form, browser: browser) else {
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
        guard form["action"] == "allow" else {
            return try await respond(try await declined(.authorization(requestID: requestID)), browser: browser)
        }
        let client = try? await server.client(try await server.pendingAuthorization(requestID)?.clientID)
        guard let location = try await server.completeAuthorization(requestID, user: user) else {
            return errorPage("This request expired or was already used. Start again from the application.", status: .badRequest)
        }
        logSignIn(user: user, client: client?.id ?? "?")
        return redirect(to: location)
    }
}
