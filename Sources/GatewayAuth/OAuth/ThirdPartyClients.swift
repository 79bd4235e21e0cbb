import Foundation
import GatewayProtocol
import GatewayStore
import Logging

/// AI clients the gateway did not ship (MCP clients such as Claude, ChatGPT, Cursor, VS Code):
/// known either by the https URL of their Client ID Metadata Document or by a dynamic
/// registration (RFC 7591). Both are public clients: PKCE, no secret. Their names are
/// self-declared, so the consent step shows them as unverified, with the redirect's host.
public struct ThirdPartyClients: Sendable {
    /// A registration nobody signed in with or refreshed for this long is gone.
    public static let registrationLifetime: TimeInterval = 30 * 24 * 3600
    /// Live registrations at most; past it, registering is refused until unused ones expire.
    public static let maximumRegistrations = 10_000
    static let maximumRedirectURIs = 10
    static let maximumNameCharacters = 100
    static let registeredIDPrefix = "mcp-client-"

    let store: GatewayStore
    /// Nil when Client ID Metadata Documents are turned off.
    let metadataDocuments: ClientMetadataDocuments?
    let logger: Logger

    public init(store: GatewayStore, metadataDocuments: ClientMetadataDocuments?, logger: Logger) {
        self.store = store
        self.metadataDocuments = metadataDocuments
        self.logger = logger
    }

    public var acceptsMetadataDocuments: Bool { metadataDocuments != nil }

    /// The client behind a `client_id` that is not first-party, or nil when there is none.
    /// A metadata document that cannot be used is an `OAuthError` saying why.
    func client(_ id: String) async throws -> OAuthClient? {
        if id.hasPrefix(Self.registeredIDPrefix) {
            guard
                let registered = try await store.registeredOAuthClient(
                    id: id, unusedSince: Date().addingTimeInterval(-Self.registrationLifetime))
            else { return nil }
            return OAuthClient(id: registered.id, name: registered.name, redirectURIs: registered.redirectURIs, origin: .registered)
        }
        guard let metadataDocuments, id.hasPrefix("https://") || id.hasPrefix("http://") else { return nil }
        let document = try await metadataDocuments.document(for: id)
        return OAuthClient(
            id: id, name: Self.cleanName(document.clientName) ?? Self.host(of: id) ?? id, redirectURIs: document.redirectURIs ?? [],
            origin: .metadataDocument)
    }

    /// Records a use (sign-in, refresh) so the registration does not expire.
    func touch(_ client: OAuthClient) async throws {
        if client.origin == .registered { try await store.touchOAuthClient(id: client.id) }
    }

    // MARK: Dynamic registration (RFC 7591)

    /// Validates the metadata and registers a public client; the answer echoes what was kept.
    public func register(_ metadata: OAuthClientMetadata) async throws(OAuthError) -> OAuthClientMetadata {
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
            id: Self.registeredIDPrefix + OpaqueToken.generate(), name: name, redirectURIs: redirectURIs, createdAt: now, lastUsedAt: now)
        do {
            let live = try await store.registeredOAuthClientCount(unusedSince: now.addingTimeInterval(-Self.registrationLifetime))
            guard live < Self.maximumRegistrations else {
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
                "redirect_hosts": .string(redirectURIs.compactMap(Self.host(of:)).joined(separator: ",")),
            ])
        return OAuthClientMetadata(
            clientID: client.id, clientIDIssuedAt: Int(now.timeIntervalSince1970), clientName: name, redirectURIs: redirectURIs,
            grantTypes: ["authorization_code", "refresh_token"], responseTypes: ["code"], tokenEndpointAuthMethod: "none",
            scope: AuthorizationServer.defaultScope)
    }

    /// https anywhere, http only to a loopback address (RFC 8252 section 7.3), or an
    /// application's private-use scheme (section 7.1); never a fragment, credentials or a
    /// scheme a browser would run.
    static func validatedRedirectURIs(_ uris: [String]?) throws(OAuthError) -> [String] {
        guard let uris, !uris.isEmpty else { throw OAuthError("invalid_redirect_uri", "redirect_uris is required") }
        guard uris.count <= maximumRedirectURIs else {
            throw OAuthError("invalid_redirect_uri", "at most \(maximumRedirectURIs) redirect_uris")
        }
        for uri in uris {
            guard isAcceptableRedirect(uri) else {
                throw OAuthError(
                    "invalid_redirect_uri",
                    "redirect URI \(uri.prefix(200)) is not allowed: use https, http on a loopback address, or an application scheme")
            }
        }
        return uris
    }

    static func isAcceptableRedirect(_ uri: String) -> Bool {
        guard uri.utf8.count <= AuthorizationServer.maximumRedirectURIBytes,
            let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
            components.fragment == nil, components.user == nil, components.password == nil
        else { return false }
        switch scheme {
        case "https": return !(components.host ?? "").isEmpty
        case "http": return OAuthClientRegistry.loopbackHosts.contains(components.host ?? "")
        case "javascript", "data", "file", "blob", "vbscript", "about", "ws", "wss", "ftp": return false
        default: return true
        }
    }

    /// Printable, single-line and bounded: the name is shown on the consent page.
    static func cleanName(_ name: String?) -> String? {
        guard let name else { return nil }
        let printable = String(name.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(Character.init))
        let trimmed = printable.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : String(trimmed.prefix(maximumNameCharacters))
    }

    public static func host(of uri: String) -> String? {
        URLComponents(string: uri)?.host
    }
}
