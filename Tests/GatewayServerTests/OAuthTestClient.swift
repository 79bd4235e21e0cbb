import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// Plays both sides of an OAuth flow against a gateway: the browser (cookies, forms, no
/// automatic redirects) and the native client (PKCE, token requests).
final class OAuthTestClient: @unchecked Sendable {
    let transport: GatewayTransport
    private var cookies: [String: String] = [:]
    private let lock = NSLock()

    init(transport: GatewayTransport) {
        self.transport = transport
    }

    /// A client of the live gateway at `base`.
    convenience init(base: String) {
        self.init(transport: .live(base))
    }

    var base: String { transport.base }

    /// Another browser (no cookies) on the same gateway.
    func newBrowser() -> OAuthTestClient { OAuthTestClient(transport: transport) }

    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let body: String

        var location: String? { headers.first(name: "Location") }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
    }

    // MARK: HTTP

    func request(
        _ method: HTTPMethod, _ pathOrURL: String, form: [String: String]? = nil, json: String? = nil, headers: [(String, String)] = []
    ) async throws -> Reply {
        var requestHeaders = HTTPHeaders()
        let cookieHeader = lock.withLock { cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if !cookieHeader.isEmpty { requestHeaders.add(name: "Cookie", value: cookieHeader) }
        for (name, value) in headers { requestHeaders.add(name: name, value: value) }
        var body: ByteBuffer?
        if let form {
            requestHeaders.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            body = ByteBuffer(string: Self.encode(form))
        }
        if let json {
            requestHeaders.add(name: "Content-Type", value: "application/json")
            body = ByteBuffer(string: json)
        }
        let response = try await transport.request(method, pathOrURL, headers: requestHeaders, body: body)
        lock.withLock {
            for header in response.headers["Set-Cookie"] {
                let pair = header.split(separator: ";").first ?? ""
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { cookies[parts[0]] = parts[1] }
            }
        }
        return Reply(status: response.status, headers: response.headers, body: response.body)
    }

    /// Sets a cookie as a script or a sibling subdomain could.
    func setCookie(_ name: String, _ value: String) {
        lock.withLock { cookies[name] = value }
    }

    static func encode(_ form: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.sorted { $0.key < $1.key }.map {
            "\($0.key.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
        }.joined(separator: "&")
    }

    static func hiddenInputs(_ html: String) -> [String: String] {
        let pattern = #"<input type="hidden" name="([^"]+)" value="([^"]*)">"#
        let regex = try! NSRegularExpression(pattern: pattern)
        var values: [String: String] = [:]
        for match in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            values[String(html[Range(match.range(at: 1), in: html)!])] = String(html[Range(match.range(at: 2), in: html)!])
        }
        return values
    }

    static func queryItems(_ url: String) -> [String: String] {
        Dictionary((URLComponents(string: url)?.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { first, _ in first }
    }

    // MARK: PKCE

    static func makeVerifier() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return base64URL(Data(bytes))
    }

    static func challenge(_ verifier: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    // MARK: Flows

    func authorizeURL(
        clientID: String = "desktop", redirectURI: String, verifier: String, state: String = "st-123",
        method: String = "S256", extra: [String: String] = [:]
    ) -> String {
        var parameters = [
            "response_type": "code", "client_id": clientID, "redirect_uri": redirectURI, "state": state,
            "code_challenge": Self.challenge(verifier), "code_challenge_method": method, "scope": "gateway",
        ]
        parameters.merge(extra) { $1 }
        return "\(base)/oauth/authorize?\(Self.encode(parameters))"
    }

    /// Opens the authorize URL and submits the demo sign-in form; returns the sign-in POST's reply.
    func signIn(at authorizeURL: String, displayName: String, passcode: String? = nil, action: String = "allow") async throws -> Reply {
        let page = try await request(.GET, authorizeURL)
        guard page.status == 200 else { return page }
        var form = Self.hiddenInputs(page.body)
        form["display_name"] = displayName
        form["action"] = action
        if let passcode { form["passcode"] = passcode }
        return try await request(.POST, "/oauth/authorize", form: form)
    }

    /// The whole authorization-code flow; returns the token response JSON.
    func signInForTokens(displayName: String, clientID: String = "desktop") async throws -> [String: Any] {
        let redirect = "http://127.0.0.1:\(Int.random(in: 20000...60000))/callback"
        let verifier = Self.makeVerifier()
        let reply = try await signIn(
            at: authorizeURL(clientID: clientID, redirectURI: redirect, verifier: verifier), displayName: displayName)
        let code = Self.queryItems(reply.location ?? "")["code"] ?? ""
        return try await request(
            .POST, "/oauth/token",
            form: [
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": clientID,
                "code_verifier": verifier,
            ]
        ).json
    }
}
