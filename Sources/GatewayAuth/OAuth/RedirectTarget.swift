import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a redirect URI sends the browser, as the gateway checks it and shows it to a person.
///
/// URIs are ASCII (RFC 3986): an internationalized host must arrive in its ASCII (punycode)
/// form, which is also how it is shown, so a look-alike such as `xn--clude-5ve.ai` cannot pass
/// for `claude.ai`. Hosts are DNS names (letters, digits and hyphens per label) or IP literals:
/// nothing else reaches a page or its Content-Security-Policy.
package struct RedirectTarget: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        /// http or https to `host` (lowercased ASCII, IPv6 in brackets) on an optional port.
        case web(scheme: String, host: String, port: Int?)
        /// An application's own scheme (RFC 8252 section 7.1): the operating system hands the
        /// redirect to whichever app claims it.
        case app(scheme: String)
    }

    package let kind: Kind

    /// Parses `uri`, or nil when it is not a redirect the gateway would ever follow: non-ASCII or
    /// unprintable characters, a fragment, credentials, or a web host that is not a DNS name or
    /// an IP literal.
    package init?(_ uri: String) {
        guard uri.utf8.count <= AuthorizationServer.maximumRedirectURIBytes,
            uri.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }),
            let components = URLComponents(string: uri), let rawScheme = components.scheme,
            components.fragment == nil, components.user == nil, components.password == nil
        else { return nil }
        let scheme = rawScheme.lowercased()
        guard let first = scheme.unicodeScalars.first, ("a"..."z").contains(first),
            scheme.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0) })
        else { return nil }
        guard scheme == "http" || scheme == "https" else {
            kind = .app(scheme: scheme)
            return
        }
        guard let host = components.encodedHost?.lowercased(), Self.isDNSNameOrIPLiteral(host) else { return nil }
        kind = .web(scheme: scheme, host: host, port: components.port)
    }

    /// `a.example`, `127.0.0.1`, `[::1]`; never `*`, `;`, `%`, `_` or an empty label.
    static func isDNSNameOrIPLiteral(_ host: String) -> Bool {
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { return false }
            var address = in6_addr()
            return inet_pton(AF_INET6, String(host.dropFirst().dropLast()), &address) == 1
        }
        guard (1...253).contains(host.utf8.count) else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
    }

    /// What the consent text names as the place the browser goes back to.
    package var shownAs: String {
        switch kind {
        case .web(_, let host, _): host
        case .app(let scheme): "\(scheme):"
        }
    }

    /// Whether a label of the host is an internationalized name in its ASCII form (`xn--`): the
    /// page says so, since its Unicode form could imitate another name.
    package var isInternationalizedHost: Bool {
        guard case .web(_, let host, _) = kind else { return false }
        return host.split(separator: ".").contains { $0.hasPrefix("xn--") }
    }

    /// The Content-Security-Policy source that admits exactly this target (form-action).
    package var policySource: String {
        switch kind {
        case .web(let scheme, let host, let port): "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")"
        case .app(let scheme): "\(scheme):"
        }
    }

    /// Schemes a browser or operating system runs itself; never an app's redirect.
    static let systemSchemes: Set<String> = [
        "javascript", "vbscript", "data", "file", "blob", "about", "ws", "wss", "ftp", "mailto", "tel", "sms", "view-source", "chrome",
        "chrome-extension", "edge", "jar", "ms-settings", "x-javascript", "intent", "filesystem", "resource", "moz-extension",
    ]

    /// What a third-party client may declare: https to any DNS name or IP literal, http to
    /// a loopback IP literal (RFC 8252 section 7.3; not `localhost`, section 8.3, which a local
    /// resolver may send elsewhere), or a reverse-domain private-use scheme such as
    /// `com.example.app:` (section 7.1). A one-word scheme (`cursor:`, `ms-settings:`) could be
    /// any program's, so it is not accepted.
    package var isAcceptableForThirdPartyClients: Bool {
        switch kind {
        case .web(let scheme, let host, _):
            return scheme == "https" || ["127.0.0.1", "[::1]"].contains(host)
        case .app(let scheme):
            return scheme.contains(".") && !Self.systemSchemes.contains(scheme) && !scheme.hasPrefix(".") && !scheme.hasSuffix(".")
        }
    }
}
