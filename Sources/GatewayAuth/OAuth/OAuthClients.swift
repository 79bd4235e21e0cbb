import Foundation

/// A public client (no secret): what it may do and where it may be sent back to.
public struct OAuthClient: Sendable, Equatable {
    public let id: String
    public let name: String
    /// RFC 8252 loopback redirects on any port (native apps listen on a free port).
    public let allowsLoopbackRedirects: Bool
    /// Redirects to the gateway's web app callback (exactly `PUBLIC_BASE_URL/app/callback`).
    public let allowsGatewayPageRedirects: Bool
    /// RFC 8628 device authorization grant.
    public let allowsDeviceGrant: Bool
}

/// The three first-party clients and the redirect rules of RFC 8252 and the allowlist.
public struct OAuthClientRegistry: Sendable {
    public let clients: [String: OAuthClient]
    public let publicBaseURL: String
    /// Extra redirect URIs (custom schemes, web origins), matched exactly.
    public let allowlist: Set<String>

    public init(publicBaseURL: String, allowlist: [String]) {
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
    public static let webCallbackPath = "/app/callback"

    public func client(_ id: String?) -> OAuthClient? {
        id.flatMap { clients[$0] }
    }

    public func isRedirectAllowed(_ uri: String, for client: OAuthClient) -> Bool {
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
}
