import AsyncHTTPClient
import Foundation
import GatewayConfig
import GatewayServer
import GatewayWeb
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// One response read over real HTTP.
struct Fetched: Sendable {
    let status: Int
    let headers: [String: String]
    let body: String

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

func fetch(_ url: String, headers: [String: String] = [:]) async throws -> Fetched {
    var request = HTTPClientRequest(url: url)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 4 << 20)
    var fields: [String: String] = [:]
    for header in response.headers { fields[header.name.lowercased()] = header.value }
    return Fetched(status: Int(response.status.code), headers: fields, body: String(buffer: body))
}

/// The web app's pages and assets, served by a whole gateway (dev mode: demo sign-in, SQLite,
/// in-process events) or by `WebApp` alone with other settings, always over a real socket.
@Suite("Web app pages and assets over HTTP")
struct WebPagesTests {
    static let publicURL = "https://gateway.example.test"

    func withGateway(_ body: @Sendable (String) async throws -> Void) async throws {
        let configuration = try Gateway.loadConfiguration(
            mode: .dev, environment: ["DATABASE_URL": "sqlite::memory:", "PUBLIC_BASE_URL": Self.publicURL])
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let app = try await Gateway.makeApplication(configuration: configuration, logger: logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            try await body("http://127.0.0.1:\(port)")
        }
    }

    func expectAppSecurityHeaders(_ response: Fetched, _ what: String) {
        let csp = response.header("Content-Security-Policy") ?? ""
        #expect(csp == WebApp.contentSecurityPolicy, "\(what): CSP \(csp)")
        for directive in [
            "script-src 'self'", "connect-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
            "default-src 'none'",
        ] {
            #expect(csp.contains(directive), "\(what): CSP lacks \(directive)")
        }
        #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "\(what): \(csp)")
        #expect(response.header("X-Content-Type-Options") == "nosniff", "\(what)")
        #expect(response.header("Referrer-Policy") == "no-referrer", "\(what)")
        #expect(response.header("X-Frame-Options") == "DENY", "\(what)")
    }

    /// No inline script, inline style or style attribute: the CSP would block them.
    func expectNoInlineCode(_ html: String, _ what: String) {
        #expect(html.matches(of: /<script(?![^>]*\bsrc=)[^>]*>/).isEmpty, "\(what) has an inline script")
        #expect(!html.contains("<style"), "\(what) has an inline stylesheet")
        #expect(html.matches(of: /\sstyle=/).isEmpty, "\(what) has a style attribute")
        #expect(html.matches(of: /\son[a-z]+=/).isEmpty, "\(what) has an inline event handler")
    }

    @Test func landingPageShowsTheGatewayURLReadinessAuthModeAndDemoBanner() async throws {
        try await withGateway { base in
            let page = try await fetch("\(base)/")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.header("Cache-Control") == "no-store")
            expectAppSecurityHeaders(page, "/")
            expectNoInlineCode(page.body, "/")
            #expect(page.body.contains(#"id="gateway-url" type="text" readonly value="\#(Self.publicURL)""#))
            #expect(page.body.contains(#"data-copy="gateway-url">Copy</button>"#))
            #expect(page.body.contains(#"id="demo-banner""#))
            #expect(page.body.contains("Demo mode — not for production."))
            // dev: the store is embedded SQLite and there is no Redis; the checks ran for real.
            #expect(page.body.contains(#"data-check="redis""#) && page.body.contains("embedded"))
            #expect(
                page.body.contains(
                    #"<li class="check up" data-check="store"><span class="label">Store</span> <span class="state">ready</span>"#))
            #expect(page.body.contains("SQLite, embedded"))
            #expect(page.body.contains(#"<span class="label">Sign-in</span> <span class="state">demo</span>"#))
            #expect(page.body.contains(#"href="/app""#) && page.body.contains(#"href="/openapi.yaml""#))
        }
    }

    @Test func everyAppPageServesTheShellWithTheStrictPolicy() async throws {
        try await withGateway { base in
            for path in ["/app", "/app/callback", "/app/shares", "/app/devices", "/app/chat/some-agent", "/invite/AbC123xyz"] {
                let page = try await fetch(base + path)
                #expect(page.status == 200, "\(path)")
                #expect(page.header("Content-Type") == "text/html; charset=utf-8", "\(path)")
                expectAppSecurityHeaders(page, path)
                expectNoInlineCode(page.body, path)
                #expect(page.body.contains(#"<script type="module" src="\#(WebAssets.script.versionedPath)"></script>"#), "\(path)")
                #expect(page.body.matches(of: /<script\b/).count == 1, "\(path): the entry module is the only script")
                #expect(page.body.contains(#"<meta name="gateway-base-url" content="\#(Self.publicURL)">"#), "\(path)")
                #expect(page.body.contains(#"id="demo-banner""#), "\(path)")
                #expect(page.body.contains(#"<main id="main""#), "\(path)")
            }
        }
    }

    @Test func assetsHaveTheirContentTypesVersionedCachingAndETags() async throws {
        try await withGateway { base in
            let expected = [
                "app.js": "text/javascript; charset=utf-8", "sha256.js": "text/javascript; charset=utf-8",
                "app.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml",
            ]
            for (name, contentType) in expected {
                let asset = try #require(WebAssets.all[name])
                let versioned = try await fetch(base + asset.versionedPath)
                #expect(versioned.status == 200, "\(name)")
                #expect(versioned.header("Content-Type") == contentType, "\(name)")
                #expect(versioned.header("Cache-Control") == "public, max-age=31536000, immutable", "\(name)")
                #expect(versioned.header("ETag") == asset.etag, "\(name)")
                #expect(versioned.body.utf8.count == asset.bytes.count && versioned.body.count > 200, "\(name)")
                expectAppSecurityHeaders(versioned, name)

                let plain = try await fetch("\(base)/assets/web/\(name)")
                #expect(plain.status == 200 && plain.header("Cache-Control") == "no-cache", "\(name): unversioned URLs revalidate")
                let stale = try await fetch("\(base)/assets/web/\(name)?v=0000000000000000")
                #expect(stale.header("Cache-Control") == "no-cache", "\(name): an old version is not cached for good")

                let revalidated = try await fetch("\(base)/assets/web/\(name)", headers: ["If-None-Match": asset.etag])
                #expect(revalidated.status == 304, "\(name)")
                #expect(revalidated.body.isEmpty, "\(name)")
                let changed = try await fetch("\(base)/assets/web/\(name)", headers: ["If-None-Match": "\"other\""])
                #expect(changed.status == 200, "\(name)")
            }
            #expect(WebAssets.script.version != WebAssets.stylesheet.version)
        }
    }

    /// app.js is a module that imports the others by relative URL (`./api.js`, resolved against
    /// /assets/web/). Every module reachable from it must be embedded and served as JavaScript
    /// (browsers run no module of another type, `nosniff` or not), and every module in
    /// `WebAssets.modules` must be reachable.
    @Test func theEntryModuleAndEveryModuleItImportsAreServedAsJavaScript() async throws {
        try await withGateway { base in
            for path in ["/", "/app"] {
                let page = try await fetch(base + path)
                #expect(page.body.contains(#"<script type="module" src="\#(WebAssets.script.versionedPath)"></script>"#), "\(path)")
            }
            let entry = try await fetch(base + WebAssets.script.versionedPath)
            #expect(entry.status == 200 && entry.header("Content-Type") == "text/javascript; charset=utf-8")

            var pending = [WebAssets.script.name]
            var reached: Set<String> = [WebAssets.script.name]
            while let name = pending.popLast() {
                // Unversioned, as the browser asks for an imported module.
                let module = try await fetch("\(base)/assets/web/\(name)")
                #expect(module.status == 200, "\(name)")
                #expect(module.header("Content-Type") == "text/javascript; charset=utf-8", "\(name)")
                #expect(module.header("Cache-Control") == "no-cache", "\(name)")
                expectAppSecurityHeaders(module, name)
                // `import { a } from "./x.js"`, `import "./x.js"` and `import("./x.js")`.
                for match in module.body.matches(of: #/\b(?:from|import)\s*\(?\s*["']\.\/([^"'\/]+)["']/#) {
                    let imported = String(match.1)
                    if reached.insert(imported).inserted { pending.append(imported) }
                }
            }
            #expect(reached.count > 5, "\(reached.sorted())")
            #expect(reached.subtracting([WebAssets.script.name]) == Set(WebAssets.modules.map(\.name)), "\(reached.sorted())")
        }
    }

    @Test func unknownAssetsAreNotFound() async throws {
        try await withGateway { base in
            for name in ["nope.js", "app.js.map", "..%2Fapp.js", "APP.JS"] {
                let missing = try await fetch("\(base)/assets/web/\(name)")
                #expect(missing.status == 404, "\(name)")
                expectAppSecurityHeaders(missing, name)
            }
        }
    }

    @Test func signInPagesKeepTheirOwnPolicy() async throws {
        try await withGateway { base in
            let page = try await fetch("\(base)/oauth/authorize?client_id=unknown")
            #expect(page.status == 400)
            let csp = page.header("Content-Security-Policy") ?? ""
            #expect(csp.hasPrefix("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'"), "\(csp)")
            #expect(!csp.contains("script-src"))
        }
    }

    /// `WebApp` on its own router: a production sign-in mode with Redis shows no banner and
    /// reports a dependency that is down.
    @Test func withoutDemoModeThereIsNoBannerAndDownDependenciesShow() async throws {
        let web = WebApp(
            settings: WebAppSettings(
                publicBaseURL: "https://prod.example.test", authMode: "oidc", nonProduction: false, storeKind: "postgres",
                usesRedis: true, version: "1.2.3"),
            readiness: {
                [
                    WebDependencyStatus(name: "redis", isUp: false, latencyMilliseconds: 1000),
                    WebDependencyStatus(name: "events", isUp: false, latencyMilliseconds: 0.2),
                    WebDependencyStatus(name: "store", isUp: true, latencyMilliseconds: 1.5),
                ]
            })
        let router = Router()
        web.register(on: router)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let page = try await fetch("\(base)/")
            #expect(page.status == 200)
            expectAppSecurityHeaders(page, "/")
            #expect(!page.body.contains("demo-banner") && !page.body.contains("not for production"))
            #expect(page.body.contains(#"value="https://prod.example.test""#))
            #expect(
                page.body.contains(
                    #"<li class="check down" data-check="redis"><span class="label">Redis</span> <span class="state">unavailable</span>"#))
            #expect(
                page.body.contains(
                    #"<li class="check up" data-check="store"><span class="label">Store</span> <span class="state">ready</span>"#))
            #expect(page.body.contains(#"<span class="state">oidc</span>"#))
            let shell = try await fetch("\(base)/invite/xyz")
            #expect(shell.status == 200 && !shell.body.contains("demo-banner"))
        }
    }

    /// Every template in Sources/GatewayWeb/Templates is embedded (Package.swift) and registered.
    @Test func everyTemplateIsEmbeddedAndRegistered() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let files = try FileManager.default.contentsOfDirectory(
            atPath: root.appendingPathComponent("Sources/GatewayWeb/Templates").path)
        let names = Set(files.filter { $0.hasSuffix(".mustache") }.map { String($0.dropLast(".mustache".count)) })
        #expect(names == Set(ServerPages.templateNames))
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        for name in names { #expect(manifest.contains(#".embedInCode("Templates/\#(name).mustache")"#), "\(name)") }
    }

    /// Every value a template shows is escaped, whoever wrote it: a client's self-chosen name,
    /// a user's display name, the code a person typed, an error message.
    @Test func everySignInTemplateEscapesItsValues() {
        let hostile = #"<b x='1'>"&amp;"#
        let escaped = "&lt;b x=&#39;1&#39;&gt;&quot;&amp;amp;"
        let client = SignInPages.ClientStatement(
            name: hostile, base: hostile,
            thirdParty: .init(describedBy: hostile, appScheme: nil, host: hostile, internationalized: true))
        let controls = SignInPages.Controls(
            fields: [.init(name: hostile, label: hostile, type: "text", maxLength: 5, autocomplete: hostile, autofocus: true)],
            allowLabel: hostile, notice: hostile)
        let pages: [(String, any SignInPages.Page, Int)] = [
            ("sign-in", SignInPages.SignIn(requestID: hostile, csrf: hostile, client: client, error: hostile, controls: controls), 14),
            ("consent", SignInPages.Consent(userName: hostile, requestID: hostile, csrf: hostile, client: client), 7),
            ("device code", SignInPages.DeviceCode(base: hostile, csrf: hostile, userCode: hostile, error: hostile), 4),
            (
                "device approval",
                SignInPages.DeviceApproval(
                    clientName: hostile, requestedAt: .init(timestamp: hostile, ago: hostile), base: hostile, shownCode: hostile,
                    userCode: hostile, csrf: hostile, error: hostile, controls: controls), 15
            ),
            ("message", SignInPages.Message(hostile, hostile, hostile), 4),
        ]
        for (what, page, count) in pages {
            let html = page.html(nonProduction: true)
            #expect(!html.contains("<b "), "\(what) shows markup from a value")
            #expect(html.components(separatedBy: escaped).count - 1 == count, "\(what): \(html)")
            #expect(html.hasPrefix("<!doctype html>") && html.contains(#"<link rel="stylesheet" href="/assets/gateway.css">"#))
            #expect(html.contains(#"id="demo-banner""#), "\(what) has the non-production banner")
            expectNoInlineCode(html, what)
        }
    }
}
