import Foundation
import GatewayProtocol
import GatewayStore
import Logging

/// AI clients the gateway did not ship (MCP clients such as Claude, ChatGPT, Cursor, VS Code):
/// known either by the https URL of their Client ID Metadata Document or by a dynamic
/// registration (RFC 7591). Both are public clients: PKCE, no secret. Their names are
/// self-declared, so the consent step shows them as unverified, with the redirect's host.
package struct ThirdPartyClients: Sendable {
    /// A registration nobody signed in with or refreshed for this long is gone.
    package static let registrationLifetime: TimeInterval = 30 * 24 * 3600
    /// Live registrations at most; past it, the oldest one nobody ever used makes room, and
    /// when every one is in use registering is refused until some expire.
    package static let maximumRegistrations = 10_000
    static let maximumRedirectURIs = 10
    static let maximumNameCharacters = 100
    static let registeredIDPrefix = "mcp-client-"

    let store: GatewayStore
    /// Nil when Client ID Metadata Documents are turned off.
    let metadataDocuments: ClientMetadataDocuments?
    /// Live registrations one client address may hold.
    let registrationsPerAddress: Int
    /// A registration nobody signed in with is gone after this.
    let unusedRegistrationLifetime: TimeInterval
    let logger: Logger

    package init(
        store: GatewayStore, metadataDocuments: ClientMetadataDocuments?, registrationsPerAddress: Int = 20,
        unusedRegistrationLifetime: TimeInterval = 3600, logger: Logger
    ) {
        self.store = store
        self.metadataDocuments = metadataDocuments
        self.registrationsPerAddress = registrationsPerAddress
        self.unusedRegistrationLifetime = unusedRegistrationLifetime
        self.logger = logger
    }

    package var acceptsMetadataDocuments: Bool { metadataDocuments != nil }

    func expiry(now: Date = Date()) -> OAuthClientExpiry {
        OAuthClientExpiry(
            unusedSince: now.addingTimeInterval(-Self.registrationLifetime),
            neverUsedSince: now.addingTimeInterval(-unusedRegistrationLifetime))
    }

    /// The client behind a `client_id` that is not first-party, or nil when there is none.
    /// A metadata document that cannot be used is an `OAuthError` saying why.
    func client(_ id: String) async throws -> OAuthClient? {
        if id.hasPrefix(Self.registeredIDPrefix) {
            guard let registered = try await store.registeredOAuthClient(id: id, expiry: expiry()) else { return nil }
            // Checked again on the way out: a registration kept from before a rule tightened gets
            // only the redirects that are still acceptable.
            return OAuthClient(
                id: registered.id, name: registered.name, redirectURIs: Self.acceptableRedirectURIs(registered.redirectURIs),
                origin: .registered)
        }
        guard let metadataDocuments, id.hasPrefix("https://") || id.hasPrefix("http://") else { return nil }
        let document = try await metadataDocuments.document(for: id)
        return OAuthClient(
            id: id, name: Self.cleanName(document.clientName) ?? RedirectTarget(id)?.shownAs ?? id,
            redirectURIs: Self.acceptableRedirectURIs(document.redirectURIs), origin: .metadataDocument)
    }

    /// Records a use (sign-in, refresh) so the registration does not expire.
    func touch(_ client: OAuthClient) async throws {
        if client.origin == .registered { try await store.touchOAuthClient(id: client.id) }
    }

    // MARK: Dynamic registration (RFC 7591)

    /// Validates the metadata and registers a public client from `address` (as per-address
    /// limits count it); the answer echoes what was kept.
    package func register(_ metadata: OAuthClientMetadata, from address: String) async throws(OAuthError) -> OAuthClientMetadata {
        let redirectURIs = try Self.validatedRedirectURIs(metadata.redirectURIs)
        let grantTypes = metadata.grantTypes ?? ["authorization_code"]
        guard grantTypes.contains("authorization_code"), grantTypes.allSatisfy(["authorization_code", "refresh_token"].contains) else {
            throw OAuthError("invalid_client_metadata", "grant_types may only be authorization_code and refresh_token")
        }
        guard (metadata.responseTypes ?? ["code"]).allSatisfy({ $0 == "code" }) else {
            throw OAuthError("invalid_client_metadata", "response_types may only be code")
        }
        // The gateway has public clients only (PKCE protects the code). A client asking for a
        // secret-based method is told, in the answer, that it gets `none` (RFC 7591 section 3.2.1).
        if let scope = metadata.scope, AuthorizationServer.normalizedScope(scope) == nil {
            throw OAuthError("invalid_client_metadata", "supported scopes: \(AuthorizationServer.supportedScopes.joined(separator: " "))")
        }
        let name = Self.cleanName(metadata.clientName) ?? "Unnamed application"
        let now = Date()
        let client = RegisteredOAuthClient(
            id: Self.registeredIDPrefix + OpaqueToken.generate(), name: name, redirectURIs: redirectURIs, createdAt: now, lastUsedAt: now,
            registeredFrom: address)
        do {
            let live = try await store.liveOAuthClientCounts(from: address, expiry: expiry(now: now))
            // One address holds a bounded number: its own oldest unused registration makes room.
            if live.fromAddress >= registrationsPerAddress, !(try await store.evictOldestUnusedOAuthClient(from: address)) {
                logger.notice(
                    "client registration refused: too many registrations from one address",
                    metadata: ["event": "oauth.registration_address_full"])
                throw OAuthError(
                    "invalid_client_metadata",
                    "this address already has \(registrationsPerAddress) registered clients in use; reuse one of them", status: 429,
                    retryAfterSeconds: 3600)
            }
            // Overall: the oldest registration nobody ever used makes room before anyone is refused.
            if live.overall >= Self.maximumRegistrations, !(try await store.evictOldestUnusedOAuthClient()) {
                logger.warning(
                    "client registration refused: too many registrations", metadata: ["event": "oauth.registration_full"])
                throw OAuthError("temporarily_unavailable", "this gateway has too many registered clients; try again later", status: 503)
            }
            try await store.registerOAuthClient(client)
        } catch let error as OAuthError {
            throw error
        } catch {
            throw OAuthError("server_error", "the gateway could not complete the request", status: 500)
        }
        logger.info(
            "client registered",
            metadata: [
                "event": "oauth.client_registered", "client_id": .string(client.id),
                "redirect_targets": .string(redirectURIs.compactMap { RedirectTarget($0)?.shownAs }.joined(separator: ",")),
            ])
        return OAuthClientMetadata(
            clientID: client.id, clientIDIssuedAt: Int(now.timeIntervalSince1970), clientName: name, redirectURIs: redirectURIs,
            grantTypes: ["authorization_code", "refresh_token"], responseTypes: ["code"], tokenEndpointAuthMethod: "none",
            scope: AuthorizationServer.defaultScope)
    }

    /// The redirect URIs of `uris` a third-party client may use (`RedirectTarget`), in order.
    /// Those it may not are left out, as RFC 7591 section 2 lets a server do (the answer lists
    /// what was kept): clients such as Cursor declare a loopback `localhost`, an app scheme and
    /// an https callback together and use the one that works. None left is an error.
    static func validatedRedirectURIs(_ uris: [String]?) throws(OAuthError) -> [String] {
        guard let uris, !uris.isEmpty else { throw OAuthError("invalid_redirect_uri", "redirect_uris is required") }
        guard uris.count <= maximumRedirectURIs else {
            throw OAuthError("invalid_redirect_uri", "at most \(maximumRedirectURIs) redirect_uris")
        }
        let kept = acceptableRedirectURIs(uris)
        guard !kept.isEmpty else {
            throw OAuthError(
                "invalid_redirect_uri",
                "none of the redirect URIs is allowed: use https to a DNS name, http to 127.0.0.1 or [::1], or a reverse-domain app scheme such as com.example.app:/callback"
            )
        }
        return kept
    }

    static func acceptableRedirectURIs(_ uris: [String]?) -> [String] {
        var kept: [String] = []
        for uri in (uris ?? []).prefix(maximumRedirectURIs) where isAcceptableRedirect(uri) && !kept.contains(uri) { kept.append(uri) }
        return kept
    }

    static func isAcceptableRedirect(_ uri: String) -> Bool {
        RedirectTarget(uri)?.isAcceptableForThirdPartyClients ?? false
    }

    /// Printable, single-line and bounded: the name is shown on the consent page. Control and
    /// hidden format characters (`PersonText`) are dropped.
    static func cleanName(_ name: String?) -> String? {
        guard let name else { return nil }
        let trimmed = PersonText.displayable(name).trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : String(trimmed.prefix(maximumNameCharacters))
    }
}
