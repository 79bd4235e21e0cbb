import GatewayConfig
import GatewayStore

/// A person established by a connector, before they become a gateway user.
package struct SignedInPerson: Sendable, Equatable {
    /// Provider and subject; the provider names its issuer (`oidc:<issuer>`), so people of two
    /// issuers never merge. Email and name are display data only.
    package let identity: Identity
    package let displayName: String

    package init(identity: Identity, displayName: String) {
        self.identity = identity
        self.displayName = displayName
    }
}

/// What the sign-in page posted, plus a stable, random id of the browser it came from.
package struct SignInSubmission: Sendable {
    package let fields: [String: String]
    package let browserID: String

    package init(fields: [String: String], browserID: String) {
        self.fields = fields
        self.browserID = browserID
    }
}

package enum SignInError: Error, Sendable, Equatable {
    /// Sign-in is switched off for this gateway.
    case disabled
    /// The sign-in is refused; the message is safe to show to the person.
    case refused(String)
    /// The identity provider cannot be reached or answered nonsense; the message is safe to show.
    case providerUnavailable(String)
    /// The person declined at the identity provider (`access_denied`).
    case declined
}

/// The step that establishes who a person is (Dex calls these connectors). The OAuth endpoints
/// never change with the mode: every sign-in, from `/oauth/authorize` or from the device page,
/// goes through the connector and ends in the same finish step. The routes switch on the kind
/// exhaustively.
package enum SignInConnector: Sendable {
    /// The gateway's own page collects the person's answer (demo's display name; Firebase's
    /// script) and posts it back to be identified.
    case form(any FormConnector)
    /// The browser goes to the identity provider and comes back to the gateway's callback
    /// (OpenID Connect).
    case redirect(any RedirectConnector)

    var common: any ConnectorDescription {
        switch self {
        case .form(let connector): connector
        case .redirect(let connector): connector
        }
    }

    package var mode: AuthMode { common.mode }
    /// Non-production connectors are marked as such on every page and in `/v1/me`.
    package var isNonProduction: Bool { common.isNonProduction }
}

package protocol ConnectorDescription: Sendable {
    var mode: AuthMode { get }
    var isNonProduction: Bool { get }
}

/// One input of a form connector's sign-in page (rendered and escaped by the gateway).
package struct SignInField: Sendable, Equatable {
    package enum Kind: String, Sendable { case text, password }
    package let name: String
    package let label: String
    package let kind: Kind
    package let autocomplete: String
    package let maximumLength: Int?

    package init(name: String, label: String, kind: Kind, autocomplete: String, maximumLength: Int? = nil) {
        self.name = name
        self.label = label
        self.kind = kind
        self.autocomplete = autocomplete
        self.maximumLength = maximumLength
    }
}

/// What a form connector puts inside the gateway's sign-in form.
package enum SignInPage: Sendable, Equatable {
    /// Inputs the person fills in, and a line under the form (demo).
    case fields([SignInField], notice: String?)
    /// The connector's own markup and script, which sign the person in at the provider and
    /// submit the form with the result in a hidden field (Firebase).
    case script(SignInScript)
}

package struct SignInScript: Sendable, Equatable {
    /// HTML placed in the form, already escaped by the connector.
    package let markup: String
    /// The script's path on the gateway (never inline: the page's policy forbids it).
    package let scriptPath: String
    /// The hidden field the script fills before it submits the form.
    package let resultField: String
    /// Extra Content-Security-Policy sources for this page only, by directive.
    package let contentSecurityPolicy: [String: [String]]

    package init(markup: String, scriptPath: String, resultField: String, contentSecurityPolicy: [String: [String]]) {
        self.markup = markup
        self.scriptPath = scriptPath
        self.resultField = resultField
        self.contentSecurityPolicy = contentSecurityPolicy
    }
}

package protocol FormConnector: ConnectorDescription {
    /// What the sign-in form shows.
    var page: SignInPage { get }
    func identify(_ submission: SignInSubmission) async throws(SignInError) -> SignedInPerson
}

/// Where a redirect sign-in sends the browser, and what the connector keeps until it returns
/// (nonce, PKCE verifier), stored with the pending sign-in, never in a cookie.
package struct RedirectSignInStart: Sendable, Equatable {
    package let url: String
    package let kept: String

    package init(url: String, kept: String) {
        self.url = url
        self.kept = kept
    }
}

package protocol RedirectConnector: ConnectorDescription {
    /// The provider's name for buttons and pages ("Keycloak").
    var providerName: String { get }
    /// The path of the gateway's callback for this connector (`/oauth/oidc/callback`).
    var callbackPath: String { get }
    /// Starts one sign-in: `state` is the gateway's, one-time and bound to the browser.
    func start(state: String) async throws(SignInError) -> RedirectSignInStart
    /// Turns the provider's callback parameters into a person, with what `start` kept.
    func complete(callback: [String: String], kept: String) async throws(SignInError) -> SignedInPerson
}
