import GatewayConfig
import GatewayStore

/// A person established by a connector, before they become a gateway user.
public struct SignedInPerson: Sendable, Equatable {
    public let identity: Identity
    public let displayName: String

    public init(identity: Identity, displayName: String) {
        self.identity = identity
        self.displayName = displayName
    }
}

/// What the sign-in page posted, plus a stable, random id of the browser it came from.
public struct SignInSubmission: Sendable {
    public let fields: [String: String]
    public let browserID: String

    public init(fields: [String: String], browserID: String) {
        self.fields = fields
        self.browserID = browserID
    }
}

public enum SignInError: Error, Sendable, Equatable {
    /// Sign-in is switched off for this gateway.
    case disabled
    /// The submission is refused; the message is safe to show to the person.
    case refused(String)
}

/// The pluggable step that establishes who a person is (Dex calls these connectors). The OAuth
/// endpoints never change with the mode: they hand the connector a submission and receive a
/// person. `demo` is here; `firebase` and `oidc` plug in the same way.
public protocol SignInConnector: Sendable {
    var mode: AuthMode { get }
    /// Non-production connectors are marked as such on every page and in `/v1/me`.
    var isNonProduction: Bool { get }
    /// Whether the sign-in form asks for the shared passcode.
    var requiresPasscode: Bool { get }
    func identify(_ submission: SignInSubmission) async throws(SignInError) -> SignedInPerson
}
