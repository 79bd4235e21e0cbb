import GatewayWeb
import Hummingbird

/// Server-rendered pages: escaped text, one stylesheet, and headers that forbid framing,
/// caching and inline script.
enum HTML {
    static func escape(_ text: String) -> String { WebHTML.escape(text) }

    static let demoBanner = WebHTML.demoBanner

    /// A whole page. `formTargets` are the extra origins a form submission may end up at (the
    /// OAuth redirect), which browsers check against `form-action` even across redirects.
    static func page(
        title: String, body: String, nonProduction: Bool, status: HTTPResponse.Status = .ok, formTargets: [String] = [],
        extraSources: [String: [String]] = [:]
    ) -> Response {
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <link rel="stylesheet" href="/assets/gateway.css">
            </head>
            <body>
            \(nonProduction ? demoBanner : "")
            <main>
            \(body)
            </main>
            </body>
            </html>
            """
        var headers = securityHeaders(formTargets: formTargets, extraSources: extraSources)
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The strict policy of every sign-in page (no script unless a connector's page brings one);
    /// `extraSources` widens single directives for one page only (a sign-in provider's script,
    /// API and frame origins).
    static func securityHeaders(formTargets: [String] = [], extraSources: [String: [String]] = [:]) -> HTTPFields {
        var directives: [(String, [String])] = [
            ("default-src", ["'none'"]), ("style-src", ["'self'"]), ("img-src", ["'self'"]),
            ("form-action", ["'self'"] + formTargets), ("frame-ancestors", ["'none'"]), ("base-uri", ["'none'"]),
        ]
        directives += extraSources.sorted(by: { $0.key < $1.key }).filter { !$0.value.isEmpty }.map { ($0.key, $0.value) }
        return PageSecurity.headers(contentSecurityPolicy: PageSecurity.policy(directives), cacheControl: "no-store")
    }

    /// The sign-in pages' stylesheet, at `/assets/gateway.css`.
    static func registerAssets(on router: Router<GatewayRequestContext>) {
        router.get("/assets/gateway.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(string: stylesheet)))
        }
    }

    static let stylesheet = """
        :root { color-scheme: light dark; --accent: #3157d5; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
        main { max-width: 32rem; margin: 2rem auto; padding: 0 1rem; }
        .banner { background: #b3261e; color: #fff; padding: .75rem 1rem; text-align: center; }
        h1 { font-size: 1.5rem; }
        label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
        input[type=text], input[type=password] { width: 100%; padding: .6rem; font-size: 1rem; border: 1px solid #888; border-radius: .4rem; }
        button { margin-top: 1.25rem; padding: .6rem 1.2rem; font-size: 1rem; border-radius: .4rem; border: 0; background: var(--accent); color: #fff; cursor: pointer; }
        button.secondary { background: transparent; color: inherit; border: 1px solid #888; margin-left: .5rem; }
        button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        .error { color: #b3261e; font-weight: 600; }
        .muted { opacity: .75; font-size: .9rem; }
        .badge { display: inline-block; padding: 0 .5rem; border: 1px solid currentColor; border-radius: 1rem; font-size: .8rem; font-weight: 600; white-space: nowrap; }
        code { font-size: 1.1rem; }
        """
}
