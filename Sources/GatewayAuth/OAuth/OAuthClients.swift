import Foundation

/// A public client (no secret): what it may do and where it may be sent back to.
package struct OAuthClient: Sendable, Equatable {
    /// How the gateway knows the client, which decides whether its name can be trusted.
    package enum Origin: String, Sendable, Equatable {
        /// One of the gateway's own applications.
        case firstParty = "first-party"
        /// Registered itself (RFC 7591); its name is self-declared.
        case registered
        /// Its `client_id` is the https URL of a Client ID Metadata Document; its name is
        /// self-declared, its URL's host is the only thing known about it.
        case metadataDocument = "metadata-document"
    }

    package let id: String
    package let name: String
    /// RFC 8252 loopback redirects on any port (native apps listen on a free port).
    package let allowsLoopbackRedirects: Bool
    /// Redirects to the gateway's web app callback (exactly `PUBLIC_BASE_URL/app/callback`).
    package let allowsGatewayPageRedirects: Bool
    /// RFC 8628 device authorization grant.
    package let allowsDeviceGrant: Bool
    /// The redirect URIs a third-party client declared, matched exactly (a loopback one on any
    /// port, RFC 8252 section 7.3).
    package let redirectURIs: [String]
    package let origin: Origin

    package init(
        id: String, name: String, allowsLoopbackRedirects: Bool = false, allowsGatewayPageRedirects: Bool = false,
        allowsDeviceGrant: Bool = false, redirectURIs: [String] = [], origin: Origin = .firstParty
    ) {
        self.id = id
        self.name = name
        self.allowsLoopbackRedirects = allowsLoopbackRedirects
        self.allowsGatewayPageRedirects = allowsGatewayPageRedirects
        self.allowsDeviceGrant = allowsDeviceGrant
        self.redirectURIs = redirectURIs
        self.origin = origin
    }

    /// Whether the name was chosen by the client itself (pages say it is unverified).
    package var isThirdParty: Bool { origin != .firstParty }
}

/// The three first-party clients and the redirect rules of RFC 8252 and the allowlist.
package struct OAuthClientRegistry: Sendable {
    package let clients: [String: OAuthClient]
    package let publicBaseURL: String
    /// Extra redirect URIs (custom schemes, web origins), matched exactly.
    package let allowlist: Set<String>

    package init(publicBaseURL: String, allowlist: [String]) {
        self.publicBaseURL = publicBaseURL
        self.allowlist = Set(allowlist)
        let all = [
            OAuthClient(
                id: "desktop", name: "Desktop app", allowsLoopbackRedirects: true, allowsGatewayPageRedirects: false,
                allowsDeviceGrant: true),
            OAuthClient(
                id: "gatewayctl", name: "gatewayctl", allowsLoopbackRedirects: true, allowsGatewayPageRedirects: false,
                allowsDeviceGrant: true),
            OAuthClient(
                id: "web", name: "Gateway web app", allowsLoopbackRedirects: false, allowsGatewayPageRedirects: true,
                allowsDeviceGrant: false),
        ]
        self.clients = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
    }

    /// The only page of the gateway's own an authorization may be sent back to.
    package static let webCallbackPath = "/app/callback"

    package func client(_ id: String?) -> OAuthClient? {
        id.flatMap { clients[$0] }
    }

    package func isRedirectAllowed(_ uri: String, for client: OAuthClient) -> Bool {
        if client.isThirdParty { return Self.matchesDeclaredRedirect(uri, client.redirectURIs) }
        if allowlist.contains(uri) { return true }
        guard let components = URLComponents(string: uri), components.fragment == nil, components.user == nil,
            components.password == nil, let scheme = components.scheme?.lowercased()
        else { return false }
        if client.allowsLoopbackRedirects, scheme == "http", let host = components.host,
            ["127.0.0.1", "::1", "[::1]"].contains(host), components.port != nil
        {
            return true
        }
        if client.allowsGatewayPageRedirects, uri == publicBaseURL + Self.webCallbackPath {
            return true
        }
        return false
    }

    /// Exact match, except that a declared loopback redirect matches on any port (RFC 8252
    /// section 7.3: the port is chosen when the application starts listening).
    static func matchesDeclaredRedirect(_ uri: String, _ declared: [String]) -> Bool {
        if declared.contains(uri) { return true }
        guard let requested = URLComponents(string: uri), requested.scheme == "http", requested.fragment == nil,
            let host = requested.host, Self.loopbackHosts.contains(host)
        else { return false }
        return declared.contains { candidate in
            guard var components = URLComponents(string: candidate), components.scheme == "http", components.host == host else {
                return false
            }
            components.port = requested.port
            return components.string == uri
        }
    }

    static let loopbackHosts: Set<String> = ["127.0.0.1", "::1", "[::1]", "localhost"]
}
