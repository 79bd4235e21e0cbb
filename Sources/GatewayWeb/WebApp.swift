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

    static let shellMain = """
        <noscript><p>This page needs JavaScript. The API is described in <a href="/openapi.yaml">/openapi.yaml</a>.</p></noscript>
        <p class="muted" id="loading">Loading…</p>
        """

    func shellPage() -> Response {
        Self.html(document(title: "Gateway", page: "app", main: Self.shellMain))
    }

    /// The app shell with the invite in it, so the page can say before sign-in who invites the
    /// visitor to which agent and whether the invite still works, and a link preview in a
    /// messaging app shows it too. The invite is a JSON data block (never run as script; `<`,
    /// `>` and `&` escaped, so names cannot end it) and escaped text in the title and meta tags.
    func invitePage(code: String) async -> Response {
        let invite = code.count <= 200 ? await invite(code) : nil
        guard let invite else { return Self.html(document(title: "Invite · Gateway", page: "app", main: Self.shellMain)) }
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
        let head = """
            <meta property="og:title" content="\(WebHTML.escape(title))">
            <meta property="og:description" content="\(WebHTML.escape(String(invite.agentDescription.prefix(300))))">
            """
        let main = Self.shellMain + "\n<script type=\"application/json\" id=\"invite-preview\">\(safe)</script>"
        return Self.html(document(title: "\(title) · Gateway", page: "app", main: main, head: head))
    }

    func landingPage() async -> Response {
        let checks = await readiness()
        let base = WebHTML.escape(settings.publicBaseURL)
        let body = """
            <h1>Your gateway is running</h1>
            <section aria-labelledby="gateway-url-heading">
            <h2 id="gateway-url-heading">Gateway URL</h2>
            <p>Paste this into the desktop app's settings (<strong>Gateway URL</strong>), or give it to \
            <code>gatewayctl login</code>:</p>
            <div class="copy-row">
            <input id="gateway-url" type="text" readonly value="\(base)" aria-label="Gateway URL">
            <button type="button" class="copy" data-copy="gateway-url">Copy</button>
            </div>
            <p class="muted" role="status" aria-live="polite" data-copy-status="gateway-url"></p>
            </section>
            <section aria-labelledby="status-heading">
            <h2 id="status-heading">Status</h2>
            <ul class="checks" id="checks">
            \(statusItems(checks).joined(separator: "\n"))
            </ul>
            <p class="muted">Version \(WebHTML.escape(settings.version)). Machine-readable: <a href="/readyz">/readyz</a>.</p>
            </section>
            \(settings.identityProviderCallbackURL.map(callbackSection) ?? "")
            <section aria-labelledby="start-heading">
            <h2 id="start-heading">Get started</h2>
            <p><a class="button" href="/app" id="open-app">Sign in to the web app</a></p>
            <p>Then share an agent from your desktop and send the invite link to a friend; they open it here, \
            sign in and chat with your agent.</p>
            </section>
            <section aria-labelledby="docs-heading">
            <h2 id="docs-heading">Docs</h2>
            <ul>
            <li>The README and <code>docs/</code> of the gateway's source repository: deploying, configuration, \
            sign-in, the relay protocol and the web app (<code>docs/web.md</code>).</li>
            <li><a href="/openapi.yaml">/openapi.yaml</a>: the API (OpenAPI 3.1).</li>
            <li><a href="/.well-known/oauth-authorization-server">OAuth metadata</a> for clients.</li>
            </ul>
            </section>
            """
        return Self.html(document(title: "Gateway", page: "landing", main: body))
    }

    /// The redirect URI to register at the OpenID Provider, with a copy button.
    func callbackSection(_ url: String) -> String {
        """
        <section aria-labelledby="callback-heading">
        <h2 id="callback-heading">Identity provider callback</h2>
        <p>Register this redirect URI for the gateway's client at your OpenID Connect issuer:</p>
        <div class="copy-row">
        <input id="callback-url" type="text" readonly value="\(WebHTML.escape(url))" aria-label="Callback URL">
        <button type="button" class="copy" data-copy="callback-url">Copy</button>
        </div>
        <p class="muted" role="status" aria-live="polite" data-copy-status="callback-url"></p>
        </section>
        """
    }

    func statusItems(_ checks: [WebDependencyStatus]) -> [String] {
        func item(_ label: String, _ state: String, up: Bool, detail: String) -> String {
            #"<li class="check \#(up ? "up" : "down")" data-check="\#(WebHTML.escape(label.lowercased()))"><span class="label">\#(WebHTML.escape(label))</span> "#
                + #"<span class="state">\#(WebHTML.escape(state))</span> <span class="muted">\#(WebHTML.escape(detail))</span></li>"#
        }
        var items: [String] = []
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

    /// The frame every page shares: banner, header with navigation, main, and the assets.
    func document(title: String, page: String, main: String, head: String = "") -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <meta name="gateway-base-url" content="\(WebHTML.escape(settings.publicBaseURL))">
        <meta name="gateway-auth-mode" content="\(WebHTML.escape(settings.authMode))">
        <title>\(WebHTML.escape(title))</title>
        \(head)
        <link rel="icon" href="\(WebAssets.icon.versionedPath)" type="image/svg+xml">
        <link rel="stylesheet" href="\(WebAssets.stylesheet.versionedPath)">
        <script type="module" src="\(WebAssets.script.versionedPath)"></script>
        </head>
        <body data-page="\(page)">
        <a class="skip" href="#main">Skip to content</a>
        \(settings.nonProduction ? WebHTML.demoBanner : "")
        <header class="top">
        <a class="brand" href="/">Gateway</a>
        <nav aria-label="Main">
        <a href="/app">My agents</a>
        <a href="/app/shares">Shares</a>
        <a href="/app/devices">Devices</a>
        </nav>
        <div id="account" class="account"></div>
        </header>
        <main id="main" tabindex="-1">
        \(main)
        </main>
        </body>
        </html>
        """
    }
}

/// HTML helpers shared with the server-rendered sign-in pages.
package enum WebHTML {
    package static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    package static let demoBanner = """
        <div class="banner" role="alert" id="demo-banner"><strong>Demo mode — not for production.</strong> Anyone can \
        sign in with any display name on this gateway. Do not share anything sensitive.</div>
        """
}
