import GatewayAuth
import GatewayStore
import GatewayWeb
import Hummingbird

/// The one step every sign-in ends in, whatever the connector: the person becomes a user, and
/// what the sign-in was for (an application's request or a device code) is completed.
extension SignInRoutes {
    /// What a sign-in leads to; `respond` turns it into the response.
    enum SignInOutcome {
        /// Back to the application: its code, or its `access_denied`.
        case redirect(String)
        /// A third-party client after an identity provider: the person is asked first.
        case consent(requestID: String, pending: AuthorizationRequest, client: OAuthClient, user: User)
        /// A page that ends it (device connected, denied, cancelled).
        case message(SignInPages.Message)
        case expiredRequest
        case unknownDeviceCode(String)
    }

    func finish(_ person: SignedInPerson, _ purpose: PendingSignIn.Purpose) async throws -> SignInOutcome {
        let user = try await store.user(signingInAs: person.identity, displayName: person.displayName)
        switch purpose {
        case .authorization(let requestID):
            let pending = try await server.pendingAuthorization(requestID)
            let client = try? await server.client(pending?.clientID)
            // A form connector's page already said who is asking, and signing in there was the
            // consent; after an identity provider, a third-party client still needs it.
            if let client, let pending, client.isThirdParty, case .redirect = connector {
                return .consent(requestID: requestID, pending: pending, client: client, user: user)
            }
            guard let client, let location = try await server.completeAuthorization(requestID, user: user) else {
                return .expiredRequest
            }
            logSignIn(user: user, client: client.id)
            return .redirect(location)
        case .device(let userCode, let approve):
            let client = try await server.pendingDevice(userCode: userCode)?.client
            guard let client, try await server.decideDevice(userCode: userCode, user: user, approve: approve) else {
                return .unknownDeviceCode(userCode)
            }
            logSignIn(user: user, client: client.id)
            return approve
                ? .message(
                    .init("Device connected", "\(client.name) is now signed in. You can close this page and return to your terminal."))
                : .message(.init("Device denied", "The device was denied."))
        }
    }

    /// The person declined (on the gateway's page or at the provider): the application is told
    /// `access_denied`; a device code is left for its terminal to time out.
    func declined(_ purpose: PendingSignIn.Purpose) async throws -> SignInOutcome {
        switch purpose {
        case .authorization(let requestID):
            guard let location = try await server.denyAuthorization(requestID) else { return .expiredRequest }
            return .redirect(location)
        case .device:
            return .message(.init("Sign-in cancelled", "Nothing was approved. You can close this page."))
        }
    }

    /// The response of an outcome in `browser`.
    func respond(_ outcome: SignInOutcome, browser: String) async throws -> Response {
        switch outcome {
        case .redirect(let location):
            return browsers.keeping(redirect(to: location), browser: browser)
        case .consent(let requestID, let pending, let client, let user):
            return try await consentPage(requestID: requestID, pending: pending, client: client, user: user, browser: browser)
        case .message(let page):
            return browsers.keeping(page.response(nonProduction: nonProduction), browser: browser)
        case .expiredRequest:
            return expiredRequestPage()
        case .unknownDeviceCode(let userCode):
            return unknownDeviceCode(browser: browser, userCode: userCode)
        }
    }
}
