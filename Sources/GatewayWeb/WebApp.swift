import Foundation
import Hummingbird

/// What the landing page and the app shell show about this gateway.
package struct WebAppSettings: Sendable {
    /// `PUBLIC_BASE_URL`: the Gateway URL people paste into the desktop app, and the origin the
    /// web app's OAuth redirect URI is under.
    package var publicBaseURL: String
    /// `demo`, `firebase` or `oidc`.
    package var authMode: String
    /// Demo sign-in: every page carries the non-production banner.
    package var nonProduction: Bool
    /// `postgres` or `sqlite`.
    package var storeKind: String
    /// False when the gateway runs without Redis (`gateway dev`): in-process event bus and codes.
    package var usesRedis: Bool
    package var version: String
    /// In oidc mode: the redirect URI operators register at their issuer.
    package var identityProviderCallbackURL: String?

    package init(
        publicBaseURL: String, authMode: String, nonProduction: Bool, storeKind: String, usesRedis: Bool, version: String,
        identityProviderCallbackURL: String? = nil
    ) {
        self.publicBaseURL = publicBaseURL
        self.authMode = authMode
        self.nonProduction = nonProduction
        self.storeKind = storeKind
        self.usesRedis = usesRedis
        self.version = version
        self.identityProviderCallbackURL = identityProviderCallbackURL
    }
}

/// One dependency as the readiness checks last saw it.
package struct WebDependencyStatus: Sendable {
    package let name: String
    package let isUp: Bool
    package let latencyMilliseconds: Double

    package init(name: String, isUp: Bool, latencyMilliseconds: Double) {
        self.name = name
        self.isUp = isUp
        self.latencyMilliseconds = latencyMilliseconds
    }
}

/// What the invite page says before anyone signs in: who shares which agent, and whether the
/// invite still works (the fields of the API's `InvitePreview`).
package struct WebInvite: Sendable, Equatable {
    package var ownerName: String
    package var agentName: String
    package var agentDescription: String
    /// `active`, `expired`, `exhausted` or `revoked`.
    package var status: String
    /// RFC 3339, when the invite expires.
    package var expiresAt: String?

    package init(ownerName: String, agentName: String, agentDescription: String, status: String, expiresAt: String?) {
        self.ownerName = ownerName
        self.agentName = agentName
        self.agentDescription = agentDescription
        self.status = status
        self.expiresAt = expiresAt
    }
}

/// The web app: the landing page (server-rendered), the app shell that the app.js module (with
/// the modules it imports) turns into the sign-in callback, invite, chat, agents, shares and
/// devices pages, and the embedded assets.
/// Every response carries `WebApp.contentSecurityPolicy`: no inline script or style, scripts,
/// styles and connections only from the gateway itself, no framing.
package struct WebApp: Sendable {
    package let settings: WebAppSettings
    /// The server's readiness checks (the same `/readyz` runs).
    package let readiness: @Sendable () async -> [WebDependencyStatus]
    /// The invite a code stands for, nil when there is none.
    package let invite: @Sendable (String) async -> WebInvite?

    package init(
        settings: WebAppSettings, readiness: @escaping @Sendable () async -> [WebDependencyStatus],
        invite: @escaping @Sendable (String) async -> WebInvite? = { _ in nil }
    ) {
        self.settings = settings
        self.readiness = readiness
        self.invite = invite
    }

    package static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Paths that serve the app shell; app.js picks the page from `location.pathname`.
    package static let shellPaths = [
        "/app", "/app/callback", "/app/shares", "/app/devices", "/app/chat/{agentID}", "/invite/{code}",
    ]

    package func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/") { _, _ in await landingPage() }
        for path in Self.shellPaths where path != "/invite/{code}" {
            router.get(RouterPath(path)) { _, _ in shellPage() }
        }
        router.get("/invite/{code}") { _, context in await invitePage(code: context.parameters.get("code") ?? "") }
        router.get("/assets/web/{file}") { request, context in
            asset(named: context.parameters.get("file") ?? "", request: request)
        }
    }

    // MARK: Responses

    static func securityHeaders(cacheControl: String) -> HTTPFields {
        PageSecurity.headers(contentSecurityPolicy: contentSecurityPolicy, cacheControl: cacheControl)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = securityHeaders(cacheControl: "no-store")
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// An embedded file. `?v=` equal to its version makes it cacheable for a year (the URL
    /// changes with the contents); otherwise browsers revalidate with the ETag.
    func asset(named name: String, request: Request) -> Response {
        guard let asset = WebAssets.all[name] else {
            var headers = Self.securityHeaders(cacheControl: "no-store")
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "no such asset\n")))
        }
        let versioned = request.uri.queryParameters.get("v") == asset.version
        var headers = Self.securityHeaders(cacheControl: versioned ? "public, max-age=31536000, immutable" : "no-cache")
        headers[.eTag] = asset.etag
        if let ifNoneMatch = request.headers[.ifNoneMatch],
            ifNoneMatch.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag || $0 == "*" })
        {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }

    /// The app shell; with an invite, the invite is in it, so the page can say before sign-in
    /// who invites the visitor to which agent and whether the invite still works, and a link
    /// preview in a messaging app shows it too.
    struct Shell {
        let invite: InvitePreview?
    }

    struct InvitePreview {
        let title: String
        let description: String
        /// A JSON data block (never run as script): `<`, `>` and `&` are `\u` escapes, so no
        /// name can end it.
        let previewJSON: String
    }

    func shellPage() -> Response {
        page("shell", Shell(invite: nil), title: "Gateway", data: "app")
    }

    func invitePage(code: String) async -> Response {
        let invite = code.count <= 200 ? await invite(code) : nil
        guard let invite else { return page("shell", Shell(invite: nil), title: "Invite · Gateway", data: "app") }
        let title =
            invite.status == "active"
            ? "\(invite.ownerName) invites you to chat with \(invite.agentName)" : "Invite to \(invite.agentName) (\(invite.status))"
        var fields: [String: String] = [
            "owner_name": invite.ownerName, "agent_name": invite.agentName, "agent_description": invite.agentDescription,
            "status": invite.status,
        ]
        fields["expires_at"] = invite.expiresAt
        let json =
            (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
            ?? "{}"
        let safe = json.replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
        let preview = InvitePreview(title: title, description: String(invite.agentDescription.prefix(300)), previewJSON: safe)
        return page("shell", Shell(invite: preview), title: "\(title) · Gateway", data: "app")
    }

    struct Landing {
        let baseURL: String
        let checks: [Check]
        let version: String
        /// In oidc mode: the redirect URI to register at the OpenID Provider.
        let identityProviderCallbackURL: String?
    }

    struct Check {
        let key: String
        let label: String
        /// `up` or `down`.
        let cssClass: String
        let state: String
        let detail: String
    }

    func landingPage() async -> Response {
        let landing = Landing(
            baseURL: settings.publicBaseURL, checks: statusItems(await readiness()), version: settings.version,
            identityProviderCallbackURL: settings.identityProviderCallbackURL)
        return page("landing", landing, title: "Gateway", data: "landing")
    }

    func statusItems(_ checks: [WebDependencyStatus]) -> [Check] {
        func item(_ label: String, _ state: String, up: Bool, detail: String) -> Check {
            Check(key: label.lowercased(), label: label, cssClass: up ? "up" : "down", state: state, detail: detail)
        }
        var items: [Check] = []
        let byName = Dictionary(checks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func latency(_ check: WebDependencyStatus) -> String { String(format: "%.1f ms", check.latencyMilliseconds) }
        if settings.usesRedis {
            for name in ["redis", "events"] {
                guard let check = byName[name] else { continue }
                let label = name == "redis" ? "Redis" : "Live events"
                items.append(item(label, check.isUp ? "ready" : "unavailable", up: check.isUp, detail: latency(check)))
            }
        } else {
            items.append(
                item("Redis", "embedded", up: true, detail: "not used: in-process event bus and one-time codes (gateway dev)"))
        }
        if let store = byName["store"] {
            let kind = settings.storeKind == "sqlite" ? "SQLite, embedded" : settings.storeKind.capitalized
            items.append(item("Store", store.isUp ? "ready" : "unavailable", up: store.isUp, detail: "\(kind), \(latency(store))"))
        }
        items.append(
            item(
                "Sign-in", settings.authMode, up: true,
                detail: settings.nonProduction ? "not for production: anyone can sign in with any name" : "AUTH_MODE"))
        if let provider = byName["identity_provider"] {
            items.append(
                item(
                    "Identity provider", provider.isUp ? "reachable" : "unreachable", up: provider.isUp,
                    detail: provider.isUp ? "sign-in works" : "sign-in waits for it; signed-in users are not affected"))
        }
        return items
    }

    /// `template` in the app frame: banner, header with navigation, main, and the assets.
    func page<Page>(_ template: String, _ page: Page, title: String, data: String) -> Response {
        let frame = ServerPages.Frame(
            title: title, nonProduction: settings.nonProduction,
            app: .init(baseURL: settings.publicBaseURL, authMode: settings.authMode, page: data))
        return Self.html(ServerPages.html(template, page, frame: frame))
    }
}
