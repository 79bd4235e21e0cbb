import Foundation
import GatewayProtocol
import Logging
import Testing

@testable import GatewayAuth

/// The rules for clients the gateway did not ship: which addresses a metadata document may be
/// fetched from (server-side request forgery), what a document and a registration must say,
/// and how their redirect URIs match.
@Suite("Third-party OAuth clients")
struct ThirdPartyClientTests {
    @Test(
        arguments: [
            ("93.184.215.14", true), ("8.8.8.8", true), ("2606:4700::6810:84e5", true),
            ("127.0.0.1", false), ("127.8.9.10", false), ("10.1.2.3", false), ("172.16.0.1", false), ("172.31.255.255", false),
            ("172.32.0.1", true), ("192.168.1.1", false), ("169.254.169.254", false), ("100.64.0.1", false), ("0.0.0.0", false),
            ("224.0.0.1", false), ("255.255.255.255", false), ("198.18.0.1", false), ("192.0.2.1", false), ("203.0.113.9", false),
            ("::1", false), ("::", false), ("fe80::1", false), ("fc00::1", false), ("fd12:3456::1", false), ("ff02::1", false),
            ("::ffff:127.0.0.1", false), ("::ffff:10.0.0.1", false), ("::ffff:93.184.215.14", true), ("64:ff9b::a00:1", false),
            ("2001:db8::1", false), ("2002:7f00:1::", false), ("not an address", false),
            // IPv4-translated (RFC 2765) and local-use NAT64 (RFC 8215) reach the operator's own network.
            ("::ffff:0:7f00:1", false), ("::ffff:0:5db8:d70e", false), ("64:ff9b:1::a00:1", false), ("64:ff9b:1:ffff::1", false),
        ])
    func onlyGloballyRoutableAddressesArePublic(_ address: String, _ isPublic: Bool) {
        #expect(ClientMetadataDocuments.isPublic(address) == isPublic, "\(address)")
    }

    @Test func metadataDocumentURLsMustBeHTTPSWithAPath() throws {
        for refused in [
            "http://client.example/metadata.json", "https://client.example", "https://client.example/",
            "https://user:pass@client.example/metadata.json", "https://client.example/metadata.json#x",
            "https://client.example/a/../metadata.json", "ftp://client.example/metadata.json",
            // Dot segments however they are spelled, non-ASCII hosts, hosts that are not DNS names.
            "https://client.example/a/%2e%2e/metadata.json", "https://client.example/a/%2E%2e/metadata.json",
            "https://client.example/%2e/metadata.json", "https://client.example/a%2f..%2fmetadata.json",
            "https://clаude.ai/metadata.json", "https://*.client.example/metadata.json", "https://a;b.example/metadata.json",
        ] {
            #expect(throws: OAuthError.self, "\(refused)") { try ClientMetadataDocuments.checkedURL(refused, allowLoopback: false) }
        }
        let accepted = try ClientMetadataDocuments.checkedURL("https://client.example/oauth/metadata.json", allowLoopback: false)
        #expect(accepted.host == "client.example" && accepted.port == 443)
        // The development setting also admits http (for loopback; the address check follows).
        #expect(try ClientMetadataDocuments.checkedURL("http://127.0.0.1:8000/client.json", allowLoopback: true).port == 8000)
    }

    @Test func aDocumentOnALoopbackOrPrivateAddressIsRefusedBeforeAnyRequest() async throws {
        let documents = try ClientMetadataDocuments(allowLoopback: false, logger: Logger(label: "test"))
        for url in [
            "https://127.0.0.1/client.json", "https://[::1]/client.json", "https://10.0.0.8/client.json", "https://localhost/c.json",
        ] {
            await #expect(throws: OAuthError.self, "\(url)") { try await documents.document(for: url) }
        }
    }

    @Test func documentsMustNameThemselvesAndUsePublicClientAuthentication() throws {
        let url = "https://client.example/metadata.json"
        func document(_ fields: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: fields) }
        let good = try ClientMetadataDocuments.validated(
            try document(["client_id": url, "client_name": "Example", "redirect_uris": ["https://client.example/cb"]]), clientID: url)
        #expect(good.clientName == "Example")
        for (fields, why) in [
            (["client_id": "https://other.example/metadata.json", "redirect_uris": ["https://client.example/cb"]], "another client_id"),
            (["client_id": url], "no redirect URIs"),
            (["client_id": url, "redirect_uris": ["javascript:alert(1)"]], "a script redirect"),
            (["client_id": url, "redirect_uris": ["http://client.example/cb"]], "plain http off loopback"),
            (
                ["client_id": url, "redirect_uris": ["https://client.example/cb"], "token_endpoint_auth_method": "client_secret_post"],
                "a secret"
            ),
        ] as [([String: Any], String)] {
            #expect(throws: OAuthError.self, "\(why)") { try ClientMetadataDocuments.validated(try document(fields), clientID: url) }
        }
        #expect(throws: OAuthError.self) { try ClientMetadataDocuments.validated(Data("not json".utf8), clientID: url) }
    }

    @Test func redirectURIsAClientMayDeclare() throws {
        for accepted in [
            "https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:33418/callback", "http://[::1]:6274/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback", "com.example.desktop:/oauth/callback",
            "https://xn--clude-5ve.ai/cb",
        ] {
            #expect(ThirdPartyClients.isAcceptableRedirect(accepted), "\(accepted)")
        }
        for refused in [
            "http://example.com/callback", "javascript:alert(1)", "data:text/html,x", "file:///etc/passwd",
            "https://client.example/cb#fragment", "https://user@client.example/cb", "not a uri",
            // RFC 8252 section 8.3: a third party may not use localhost (a resolver may send it elsewhere).
            "http://localhost:6274/oauth/callback",
            // Hosts that would break out of a Content-Security-Policy source or widen it.
            "https://evil.example;sandbox/cb", "https://*.evil.example/cb", "https://evil.example%20x/cb", "https://a_b.example/cb",
            // Unicode hosts must come in their ASCII form; a one-word scheme could be any program's.
            "https://clаude.ai/cb", "cursor://anysphere.cursor-mcp/oauth/callback", "vscode://vscode.dev/redirect",
            "ms-settings:privacy", "view-source:https://a.example/", "chrome://settings", "jar:https://a.example/x!/",
            "mailto:a@example.com", "x-javascript:alert(1)", "evilapp://accounts.google.com/cb",
        ] {
            #expect(!ThirdPartyClients.isAcceptableRedirect(refused), "\(refused)")
        }
        #expect(throws: OAuthError.self) {
            try ThirdPartyClients.validatedRedirectURIs(Array(repeating: "https://a.example/cb", count: 11))
        }
        // What cannot be used is left out, and what can is kept in order (RFC 7591 section 2).
        let cursor = [
            "cursor://anysphere.cursor-mcp/oauth/callback", "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback",
        ]
        #expect(try ThirdPartyClients.validatedRedirectURIs(cursor) == ["https://www.cursor.com/agents/mcp/oauth/callback"])
        #expect(throws: OAuthError.self) { try ThirdPartyClients.validatedRedirectURIs(["http://localhost:1/cb", "cursor://x/cb"]) }
    }

    @Test func redirectTargetsAreShownInTheirASCIIForm() throws {
        let idn = try #require(RedirectTarget("https://xn--clude-5ve.ai/cb"))
        #expect(idn.shownAs == "xn--clude-5ve.ai" && idn.isInternationalizedHost)
        #expect(idn.policySource == "https://xn--clude-5ve.ai")
        let app = try #require(RedirectTarget("com.example.app:/callback"))
        #expect(app.shownAs == "com.example.app:" && app.policySource == "com.example.app:" && !app.isInternationalizedHost)
        #expect(RedirectTarget("HTTPS://Claude.AI:8443/cb")?.policySource == "https://claude.ai:8443")
        #expect(RedirectTarget("http://[::1]:4000/cb")?.policySource == "http://[::1]:4000")
        #expect(RedirectTarget("https://evil.example;sandbox/cb") == nil)
    }

    @Test func aDeclaredLoopbackRedirectMatchesOnAnyPortAndNothingElseLoosely() {
        let declared = ["http://127.0.0.1:33418/callback", "https://app.example/cb"]
        #expect(OAuthClientRegistry.matchesDeclaredRedirect("http://127.0.0.1:51000/callback", declared))
        #expect(OAuthClientRegistry.matchesDeclaredRedirect("https://app.example/cb", declared))
        #expect(!OAuthClientRegistry.matchesDeclaredRedirect("http://127.0.0.1:51000/other", declared))
        #expect(!OAuthClientRegistry.matchesDeclaredRedirect("https://app.example/cb/more", declared))
        #expect(!OAuthClientRegistry.matchesDeclaredRedirect("https://app.example:8443/cb", declared))
        #expect(!OAuthClientRegistry.matchesDeclaredRedirect("http://localhost:33418/callback", declared))
    }

    @Test func namesAreShownAsOneBoundedLine() {
        #expect(ThirdPartyClients.cleanName("  Claude\n\u{7}Desktop  ") == "ClaudeDesktop")
        #expect(ThirdPartyClients.cleanName(String(repeating: "x", count: 500))?.count == 100)
        #expect(ThirdPartyClients.cleanName(" \n ") == nil)
        // Hidden characters that reorder or hide text are dropped: a bidi override, zero-width
        // space, tag characters; a zero-width joiner (emoji, scripts) stays.
        #expect(ThirdPartyClients.cleanName("Claude\u{202E}resU\u{200B}\u{E0041}\u{E0042}") == "ClauderesU")
        #expect(ThirdPartyClients.cleanName("👩\u{200D}💻 Coder") == "👩\u{200D}💻 Coder")
    }
}
